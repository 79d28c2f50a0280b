/* cm_pki.h - placeholder: being written */

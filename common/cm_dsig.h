/* cm_dsig.h - placeholder: being written */

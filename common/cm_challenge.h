/* cm_challenge.h - placeholder: being written */

/* cm_keywrap.h - placeholder: being written */

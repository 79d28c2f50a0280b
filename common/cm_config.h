/* cm_config.h - placeholder: being written */

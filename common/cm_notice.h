/* cm_notice.h - placeholder: being written */

/* cm_notice.c - placeholder: being written */
#include "config.h"
extern int cm_notice_placeholder;

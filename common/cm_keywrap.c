/* cm_keywrap.c - placeholder: being written */
#include "config.h"
extern int cm_keywrap_placeholder;

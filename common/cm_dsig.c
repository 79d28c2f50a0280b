/* cm_dsig.c - placeholder: being written */
#include "config.h"
extern int cm_dsig_placeholder;

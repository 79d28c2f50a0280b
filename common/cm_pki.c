/* cm_pki.c - placeholder: being written */
#include "config.h"
extern int cm_pki_placeholder;

/* cm_cert.c - placeholder: being written */
#include "config.h"
extern int cm_cert_placeholder;

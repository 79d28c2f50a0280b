/* cm_envelope.c - placeholder: being written */
#include "config.h"
extern int cm_envelope_placeholder;

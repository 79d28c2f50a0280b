/* cm_challenge.c - placeholder: being written */
#include "config.h"
extern int cm_challenge_placeholder;

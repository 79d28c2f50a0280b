/* cm_profile.c - placeholder: being written */
#include "config.h"
extern int cm_profile_placeholder;

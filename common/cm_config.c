/* placeholder */
#include "config.h"
extern int cm_config_placeholder;

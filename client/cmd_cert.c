/* cmd_cert.c - placeholder: being written */
#include "config.h"
#include <stdio.h>
#include "cmail.h"
int cmd_cert(int argc, char **argv) { fprintf(stderr, "cmail cert: not built yet\n"); return CMAIL_EX_FAIL; }

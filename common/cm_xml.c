/* cm_xml.c - placeholder: being written */
#include "config.h"
#include "cm_xml.h"
int cm_xml_init(void) { return 0; }

#ifndef MILTER_CALLBACKS_H
#define MILTER_CALLBACKS_H
/*++
 * NAME
 *	milter_callbacks 3h
 * SUMMARY
 *	the libmilter filter description of cmail-milter
 * SYNOPSIS
 *	#include "milter_callbacks.h"
 *
 *	extern struct smfiDesc cmm_desc;
 * DESCRIPTION
 *	cmm_desc is handed to smfi_register(); the callbacks read the
 *	settings in cmm_settings (cmail_milter.h), which main() fills in
 *	before smfi_main() starts any thread.
 *--*/
#include <libmilter/mfapi.h>

extern struct smfiDesc cmm_desc;

#endif

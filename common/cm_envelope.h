/* cm_envelope.h - placeholder: being written */

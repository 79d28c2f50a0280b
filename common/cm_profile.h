/* cm_profile.h - placeholder: being written */

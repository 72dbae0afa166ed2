/* Fault injection for the test suite: DRBACKUP_FAULTS="name,name" makes drb_fault(name) true.
 * Each fault is named where it is used; nothing is injected unless the variable is set. */
#ifndef DRB_FAULT_H
#define DRB_FAULT_H

#include <stdbool.h>

bool drb_fault(const char *name);

#endif

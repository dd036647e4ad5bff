#ifndef CSPAWN_H
#define CSPAWN_H

#include <spawn.h>

/// Adds "close every descriptor from lowfd up" to the spawn's file actions: glibc's
/// posix_spawn_file_actions_addclosefrom_np (2.34+), which Swift's Glibc module does not
/// show. Closed in the child itself, so a descriptor opened by another thread just before the
/// spawn cannot leak into it. Returns 0 or an errno.
int cspawn_addclosefrom(posix_spawn_file_actions_t *actions, int lowfd);

#endif

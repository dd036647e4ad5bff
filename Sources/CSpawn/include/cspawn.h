#ifndef CSPAWN_H
#define CSPAWN_H

#include <signal.h>
#include <spawn.h>
#include <sys/types.h>

/// Adds "close every descriptor from lowfd up" to the spawn's file actions: glibc's
/// posix_spawn_file_actions_addclosefrom_np (2.34+), which Swift's Glibc module does not
/// show. Closed in the child itself, so a descriptor opened by another thread just before the
/// spawn cannot leak into it. Returns 0 or an errno.
int cspawn_addclosefrom(posix_spawn_file_actions_t *actions, int lowfd);

/// posix_spawnattr flags Swift's Glibc module does not show (POSIX_SPAWN_SETSID is a GNU one).
extern const short cspawn_flag_setpgroup;
extern const short cspawn_flag_setsigdef;
extern const short cspawn_flag_setsigmask;
extern const short cspawn_flag_setsid;

/// What a forked child does before exec (posix_spawn cannot change the user).
struct cspawn_fork_options {
    /// 1: open /dev/null on descriptor 0, 1, 2.
    int null_stdio[3];
    /// A descriptor to put on 0, 1, 2 (dup2; -1: none). Takes precedence over null_stdio.
    int dup_stdio[3];
    /// Close every descriptor from this one up (-1: none).
    int close_from;
    /// 1: setpgid(0, 0); 2: setsid().
    int grouping;
    /// Signals reset to SIG_DFL, and the mask to set (either may be NULL).
    const sigset_t *default_signals;
    const sigset_t *mask;
    /// The user and group to run as (-1: keep ours); with a gid, the supplementary groups of
    /// `username` (none if NULL), looked up in the parent: initgroups after fork is not safe.
    int uid;
    int gid;
    const char *username;
};

/// fork, set up the child as `options` says, execve. Returns the child's pid, or -errno when
/// the fork, a step in the child or the exec failed (reported back over a close-on-exec pipe,
/// as posix_spawn reports them; the failed child is reaped).
pid_t cspawn_fork_exec(const char *path, char *const argv[], char *const envp[], const struct cspawn_fork_options *options);

#endif

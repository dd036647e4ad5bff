#define _GNU_SOURCE
#include "cspawn.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int cspawn_addclosefrom(posix_spawn_file_actions_t *actions, int lowfd) {
    return posix_spawn_file_actions_addclosefrom_np(actions, lowfd);
}

const short cspawn_flag_setpgroup = POSIX_SPAWN_SETPGROUP;
const short cspawn_flag_setsigdef = POSIX_SPAWN_SETSIGDEF;
const short cspawn_flag_setsigmask = POSIX_SPAWN_SETSIGMASK;
const short cspawn_flag_setsid = POSIX_SPAWN_SETSID;

static void fail(int pipefd, int err) {
    ssize_t unused = write(pipefd, &err, sizeof err);
    (void)unused;
    _exit(127);
}

pid_t cspawn_fork_exec(const char *path, char *const argv[], char *const envp[], const struct cspawn_fork_options *o) {
    gid_t groups[256];
    int ngroups = 0;
    if (o->gid >= 0 && o->username != NULL) {
        ngroups = (int)(sizeof groups / sizeof groups[0]);
        if (getgrouplist(o->username, (gid_t)o->gid, groups, &ngroups) < 0) return -EINVAL;
    }
    int report[2];
    if (pipe2(report, O_CLOEXEC) < 0) return -errno;
    pid_t pid = fork();
    if (pid < 0) {
        int err = errno;
        close(report[0]);
        close(report[1]);
        return -err;
    }
    if (pid == 0) {
        close(report[0]);
        for (int fd = 0; fd < 3; fd++) {
            if (o->dup_stdio[fd] >= 0) {
                if (o->dup_stdio[fd] == fd) { int fl = fcntl(fd, F_GETFD); if (fl >= 0) fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC); }
                else if (dup2(o->dup_stdio[fd], fd) < 0) fail(report[1], errno);
                continue;
            }
            if (!o->null_stdio[fd]) continue;
            int null = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
            if (null < 0) fail(report[1], errno);
            if (null != fd) { dup2(null, fd); close(null); }
        }
        if (o->grouping == 1 && setpgid(0, 0) < 0) fail(report[1], errno);
        if (o->grouping == 2 && setsid() < 0) fail(report[1], errno);
        if (o->close_from >= 0) {
            /* Every descriptor from close_from up but the report pipe (close-on-exec). */
            int keep = report[1];
            if (keep >= o->close_from) {
                if (keep > o->close_from) close_range((unsigned)o->close_from, (unsigned)keep - 1, 0);
                closefrom(keep + 1);
            } else {
                closefrom(o->close_from);
            }
        }
        if (o->default_signals != NULL) {
            for (int s = 1; s < NSIG; s++) {
                if (sigismember(o->default_signals, s) == 1) signal(s, SIG_DFL);
            }
        }
        if (o->mask != NULL) sigprocmask(SIG_SETMASK, o->mask, NULL);
        if (o->gid >= 0) {
            if (setgroups((size_t)ngroups, groups) != 0) fail(report[1], errno);
            if (setgid((gid_t)o->gid) != 0) fail(report[1], errno);
        }
        if (o->uid >= 0 && setuid((uid_t)o->uid) != 0) fail(report[1], errno);
        execve(path, argv, envp);
        fail(report[1], errno);
    }
    close(report[1]);
    int err = 0;
    ssize_t n;
    do { n = read(report[0], &err, sizeof err); } while (n < 0 && errno == EINTR);
    close(report[0]);
    if (n == (ssize_t)sizeof err) {
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
        return -err;
    }
    return pid;
}

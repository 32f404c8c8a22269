/* The pod sandbox process (the "pause" container): PID 1 of every pod's namespaces. It waits, reaps orphaned
 * children and exits on SIGINT/SIGTERM. Built statically, it is the only file of the localhost/pause image, so
 * nothing is ever pulled for a sandbox. */
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int signal_number) { _exit(0); }
static void reap(int signal_number) { while (waitpid(-1, NULL, WNOHANG) > 0) {} }

int main(void) {
  struct sigaction on_stop = {.sa_handler = stop};
  struct sigaction on_child = {.sa_handler = reap, .sa_flags = SA_NOCLDSTOP};
  if (sigaction(SIGINT, &on_stop, NULL) < 0 || sigaction(SIGTERM, &on_stop, NULL) < 0 ||
      sigaction(SIGCHLD, &on_child, NULL) < 0) {
    perror("pause: sigaction");
    return 1;
  }
  for (;;) pause();
}

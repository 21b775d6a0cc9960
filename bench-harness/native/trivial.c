/* The child of the posix_spawn baseline: a static binary that does nothing. Static, so
 * that exec costs no dynamic loading and the baseline is the kernel's own fork+exec. */
int main(void) { return 0; }

/* v_static.c: a statically linked program: hksim record must refuse it. */
int main(void) { return 0; }

/* prof_dso.c: an instrumented shared library that prof_fixture loads with dlopen after the
 * runtime started, to check that its calls are recorded and its mapping (path, build-id) is in
 * the stats file. */
__attribute__((noinline)) int dso_leaf(int x);
__attribute__((noinline)) int dso_entry(int n);

__attribute__((noinline)) int dso_leaf(int x) {
  return x + 1;
}

__attribute__((noinline)) int dso_entry(int n) {
  int s = 0;
  for (int i = 0; i < n; i++) s += dso_leaf(i);
  return s;
}

# 15-timeit.sh: hone timeit, python -m timeit for C — one statement as Python prints it, then the
# same loop compiled at -O0 and -O2 side by side (objects are cached: the second demo is instant).
section "hone timeit: time a C statement from the command line, like python -m timeit"
echo "\$ hone timeit -s 'unsigned x = 1;' 'x = (x ^ (x >> 13)) * 2654435761u; keep(x);'"
"$hone" timeit -s 'unsigned x = 1;' 'x = (x ^ (x >> 13)) * 2654435761u; keep(x);'
echo
echo "\$ hone timeit --cflags -O0 --cflags -O2 -s 'double a[256]; for (int i = 0; i < 256; i++) a[i] = i;' \\"
echo "      'double s = 0; for (int i = 0; i < 256; i++) s += a[i] * a[i]; keep(s);'"
"$hone" timeit --cflags -O0 --cflags -O2 -s 'double a[256]; for (int i = 0; i < 256; i++) a[i] = i;' \
  'double s = 0; for (int i = 0; i < 256; i++) s += a[i] * a[i]; keep(s);'

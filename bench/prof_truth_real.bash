# prof_truth_real.bash: sourced by bench/prof_truth.sh (not a bench of its own: scripts/bench runs
# bench/*.sh) — real C programs built from their own
# Debian sources at bench time (apt-get source, downloaded into the bench's temporary directory,
# never committed): bzip2 (compressing 3 MB of text), gzip (12 MB at its fast level) and the
# Lua 5.4 interpreter (a script of
# recursion, string building and table sorting). Each built -O0 -g, as examples/profiling is,
# plain and with -finstrument-functions. Needs the deb-src line that `scripts/install-deps
# --bench` adds; without it (or offline) the programs are skipped with a message.
real_fetch() { # real_fetch PKG: unpacks PKG's upstream tarball into $W/src/PKG
  mkdir -p "$W/src" && (cd "$W/src" && apt-get source -qq --download-only "$1" >/dev/null 2>&1) &&
    tarball=$(ls "$W/src/$1"_*.orig.tar.* 2>/dev/null | head -1) && [ -n "$tarball" ] &&
    mkdir -p "$W/src/$1" && tar -xf "$tarball" -C "$W/src/$1" --strip-components=1
}

# 3 MB of text that compresses like prose: words from a small vocabulary (bzip2's and gzip's input).
awk 'BEGIN { srand(7); split("the of and to in is was that for it with as his on be at by had " \
  "not are but from or have an they which one you were her all she there would their we him " \
  "been has when who will more no if out so said what up its about into than them can only", v, " ");
  n = length(v); for (i = 0; i < 700000; i++) printf "%s%s", v[int(rand() * n) + 1], (i % 12 == 11) ? "\n" : " " }' \
  >"$W/words.txt"

echo
if real_fetch bzip2; then
  ok=1
  for kind in plain inst; do
    flags="-O0 -g -D_FILE_OFFSET_BITS=64"
    [ "$kind" = inst ] && flags="$flags -finstrument-functions"
    rm -rf "$W/bzip2-$kind" && cp -r "$W/src/bzip2" "$W/bzip2-$kind" &&
      make -s -C "$W/bzip2-$kind" CC="$CC" CFLAGS="$flags" bzip2 >/dev/null 2>&1 || ok=0
  done
  if [ "$ok" = 1 ]; then
    truth bzip2 "$W" "$W/bzip2-plain/bzip2" "$W/bzip2-inst/bzip2" -9 -c "$W/words.txt"
  else
    echo "prof_truth: bzip2 did not build: skipped"
  fi
else
  echo "prof_truth: apt-get source bzip2 failed (no deb-src line? run scripts/install-deps --bench): skipped"
fi

# gzip -1 (its fast level) spreads its time over six functions of 7 to 27 % each (perf on the
# plain build: longest_match, fill_window, deflate_fast, updcrc, compress_block, send_bits), where
# -9 puts 92 % in longest_match. Configured once (about 45 s), built twice; copies keep their
# timestamps, or make would rerun automake.
echo
if real_fetch gzip && (cd "$W/src/gzip" && ./configure -q CC="$CC" >/dev/null 2>&1); then
  ok=1
  for kind in plain inst; do
    flags="-O0 -g"
    [ "$kind" = inst ] && flags="$flags -finstrument-functions"
    rm -rf "$W/gzip-$kind" && cp -rp "$W/src/gzip" "$W/gzip-$kind" &&
      make -s -j2 -C "$W/gzip-$kind" CFLAGS="$flags" >/dev/null 2>&1 || ok=0
  done
  if [ "$ok" = 1 ]; then
    cat "$W/words.txt" "$W/words.txt" "$W/words.txt" "$W/words.txt" >"$W/words4.txt"
    truth gzip "$W" "$W/gzip-plain/gzip" "$W/gzip-inst/gzip" -1 -c "$W/words4.txt"
  else
    echo "prof_truth: gzip did not build: skipped"
  fi
else
  echo "prof_truth: apt-get source gzip or its configure failed (no deb-src line? run scripts/install-deps --bench): skipped"
fi

echo
if real_fetch lua5.4; then
  ok=1
  for kind in plain inst; do
    # A fixed string-hash seed (luai_makeseed, Lua's configuration hook for it): by default it
    # comes from the time and ASLR, and the share of l_strcmp in the plain build moved 6 to 20 %
    # between runs by perf alone (7.4 to 9.3 % with the seed fixed).
    flags="-O0 -g -std=gnu99 -DLUA_COMPAT_5_3 -DLUA_USE_POSIX '-Dluai_makeseed(L)=0x2545F491u'"
    [ "$kind" = inst ] && flags="$flags -finstrument-functions"
    rm -rf "$W/lua-$kind" && cp -r "$W/src/lua5.4" "$W/lua-$kind" &&
      make -s -C "$W/lua-$kind/src" CC="$CC" CFLAGS="$flags" MYLIBS= SYSLIBS="-lm -ldl" lua \
        >/dev/null 2>&1 || ok=0
  done
  if [ "$ok" = 1 ]; then
    cat >"$W/work.lua" <<'LUA'
local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end
local t = {}
for i = 1, 60000 do t[i] = string.format("%08d", (i * 7919) % 100003) end
table.sort(t)
local parts = {}
for i = 1, 30000 do parts[#parts + 1] = t[i]:sub(2, 6) .. "," end
local s = table.concat(parts)
print(fib(24), #s)
LUA
    truth lua "$W" "$W/lua-plain/src/lua" "$W/lua-inst/src/lua" "$W/work.lua"
  else
    echo "prof_truth: lua5.4 did not build: skipped"
  fi
else
  echo "prof_truth: apt-get source lua5.4 failed (no deb-src line? run scripts/install-deps --bench): skipped"
fi

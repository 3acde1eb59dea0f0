/* test_profdata.c: the stats file — writer/reader round trip, merge, and refusal of truncated,
 * corrupt, foreign and other-version files with a message naming the problem. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <math.h>
#include <unistd.h>

#include <cmocka.h>

#include "hone/profdata.h"
#include "profile/profformat.h"

/* A small synthetic run: two threads, three mappings (one without build-id). */
static const hone__prof_wthread threads[] = {{101, "main", 4, 7, 3, 1, 2},
                                             {102, "worker-1", 2, 0, 0, 0, 0}};
static const hone_prof_sample_pc pcs0[] = {{0x2004, 1, 30}, {0x3010, 1, 4}};
static const uint64_t samples0[] = {2, 40, 11, 5};
static const hone_prof_node nodes0[] = {
    {0x1000, HONE_PROF_NO_PARENT, 0, 1, 1000, 100},
    {0x2000, 0, 0, 10, 700, 700},
    {0x3000, 0, 0, 2, 200, 150},
    {0x2000, 2, 0, 5, 50, 50},
};
static const hone_prof_node nodes1[] = {
    {0x4000, HONE_PROF_NO_PARENT, 0, 1, 500, 400},
    {0x7f0000001000, 0, 0, 3, 100, 100},
};
static const uint8_t bid[20] = {0xde, 0xad, 0xbe, 0xef, 1,  2,  3,  4,  5,  6,
                                7,    8,    9,    10,   11, 12, 13, 14, 15, 16};
static const hone__prof_wmap maps[] = {
    {0x0, 0x10000, 0x0, "/usr/bin/prog", bid, 20},
    {0x7f0000000000, 0x7f0000100000, 0x7f0000000000, "/lib/libc.so.6", bid + 4, 8},
    {0x7ffff000, 0x7ffff800, 0x7ffff000, "", NULL, 0},
};
static const char *const argv_[] = {"./prog", "--flag", "", "last arg"};

static const hone__prof_wthread *get_thread(void *ctx, size_t i) {
  (void)ctx;
  return &threads[i];
}
static void get_nodes(void *ctx, size_t t, uint64_t first, hone_prof_node *out, size_t n) {
  (void)ctx;
  memcpy(out, (t == 0 ? nodes0 : nodes1) + first, n * sizeof *out);
}
static void get_samples(void *ctx, size_t t, uint64_t first, uint64_t *out, size_t n) {
  (void)ctx;
  for (size_t k = 0; k < n; k++) out[k] = t == 0 ? samples0[first + k] : 0;
}
static size_t pcs_given;
static void get_pcs(void *ctx, size_t t, hone_prof_sample_pc *out, size_t n) {
  (void)ctx;
  assert_int_equal(t, 0);
  if (pcs_given + n > sizeof pcs0 / sizeof pcs0[0]) pcs_given = 0; /* a writer run again */
  memcpy(out, pcs0 + pcs_given, n * sizeof *out);
  pcs_given += n;
}
static const hone__prof_wmap *get_map(void *ctx, size_t i) {
  (void)ctx;
  return &maps[i];
}

static hone__prof_wsrc sample_src(void) {
  pcs_given = 0; /* get_pcs hands the records out in order, once per write */
  hone__prof_wsrc s = {
      .clock = HONE__CLOCK_TSC,
      .ticks_per_second = 2.5e9,
      .pid = 4242,
      .ppid = 1,
      .start_unix_ns = 1700000000123456789LL,
      .total_ticks = 1600,
      .overhead_inner_ticks = 12.5,
      .overhead_outer_ticks = 20.25,
      .clock_why = HONE__CLOCKWHY_KERNEL,
      .times = HONE__TIMES_SAMPLED,
      .sample_period_ns = 1000,
      .argc = 4,
      .argv = argv_,
      .nthreads = 2,
      .thread = get_thread,
      .nodes = get_nodes,
      .samples = get_samples,
      .pcs = get_pcs,
      .nmaps = 3,
      .map = get_map,
  };
  return s;
}

/* Writes src into a temporary file and returns its bytes. */
static unsigned char *write_to_mem(const hone__prof_wsrc *src, size_t *len) {
  FILE *f = tmpfile();
  assert_non_null(f);
  assert_int_equal(hone__prof_write_fd(fileno(f), src), 0);
  off_t end = lseek(fileno(f), 0, SEEK_END);
  assert_true(end > 0);
  unsigned char *buf = malloc((size_t)end);
  assert_non_null(buf);
  assert_int_equal(pread(fileno(f), buf, (size_t)end, 0), end);
  fclose(f);
  *len = (size_t)end;
  return buf;
}

static unsigned char *sample(size_t *len) {
  hone__prof_wsrc s = sample_src();
  return write_to_mem(&s, len);
}

/* Reads buf and expects failure `code` with a message containing `needle`. */
static void expect_refused(const void *buf, size_t len, int code, const char *needle) {
  hone_profile *p = (hone_profile *)0x1;
  char msg[256] = "";
  int rc = hone_profile_read_mem(buf, len, &p, msg, sizeof msg);
  if (rc != code || !strstr(msg, needle))
    fail_msg("read of %zu bytes: rc %s msg '%s'; expected %s with '%s'", len, hone_err_name(rc),
             msg, hone_err_name(code), needle);
  assert_null(p);
}

/* Writes src and expects its read to be refused as corrupt, with `needle` in the message. */
static void expect_src_refused(const hone__prof_wsrc *src, const char *needle) {
  size_t len;
  unsigned char *buf = write_to_mem(src, &len);
  expect_refused(buf, len, HONE_EFORMAT, needle);
  free(buf);
}

static void check_sample(const hone_profile *p) {
  const hone_prof_info *in = hone_profile_info(p);
  assert_int_equal(in->version, 2);
  assert_string_equal(in->clock, "tsc");
  assert_string_equal(in->clock_why, "kernel");
  assert_string_equal(in->times, "sampled");
  assert_true(fabs(in->sample_period_s - 1e-6) < 1e-15);
  assert_true(in->ticks_per_second == 2.5e9);
  assert_int_equal(in->pid, 4242);
  assert_int_equal(in->ppid, 1);
  assert_true(in->start_unix_ns == 1700000000123456789LL);
  assert_int_equal(in->total_ticks, 1600);
  assert_true(in->overhead_inner_ticks == 12.5);
  assert_true(in->overhead_outer_ticks == 20.25);
  assert_int_equal(in->argc, 4);
  for (size_t i = 0; i < 4; i++) assert_string_equal(in->argv[i], argv_[i]);
  assert_null(in->argv[4]);
  assert_string_equal(in->machine, HONE__PROF_MACHINE);
  assert_int_equal(in->nfiles, 1);

  assert_int_equal(hone_profile_thread_count(p), 2);
  const hone_prof_thread *t0 = hone_profile_thread(p, 0), *t1 = hone_profile_thread(p, 1);
  assert_int_equal(t0->tid, 101);
  assert_string_equal(t0->name, "main");
  assert_int_equal(t0->nnodes, 4);
  assert_memory_equal(t0->nodes, nodes0, sizeof nodes0);
  assert_non_null(t0->samples);
  assert_memory_equal(t0->samples, samples0, sizeof samples0);
  assert_int_equal(t0->samples_own, 7);
  assert_int_equal(t0->samples_outside, 3);
  assert_true(fabs(t0->sample_period_s - 1e-6) < 1e-15);
  assert_int_equal(t0->npcs, 2);
  assert_memory_equal(t0->pcs, pcs0, sizeof pcs0);
  assert_int_equal(t1->tid, 102);
  assert_string_equal(t1->name, "worker-1");
  assert_memory_equal(t1->nodes, nodes1, sizeof nodes1);
  assert_null(t1->samples); /* a thread whose sampling could not be set up */
  assert_true(t1->sample_period_s == 0);
  assert_null(hone_profile_thread(p, 2));

  assert_int_equal(hone_profile_mapping_count(p), 3);
  const hone_prof_mapping *m = hone_profile_mapping(p, 0);
  assert_string_equal(m->path, "/usr/bin/prog");
  assert_int_equal(m->build_id_len, 20);
  assert_memory_equal(m->build_id, bid, 20);
  m = hone_profile_mapping(p, 1);
  assert_string_equal(m->path, "/lib/libc.so.6");
  assert_int_equal(m->build_id_len, 8);
  assert_memory_equal(m->build_id, bid + 4, 8);
  assert_int_equal(m->base, 0x7f0000000000);
  m = hone_profile_mapping(p, 2);
  assert_null(m->build_id);
  assert_string_equal(m->path, "");
  assert_null(hone_profile_mapping(p, 3));
  assert_ptr_equal(hone_profile_find_mapping(p, 0, 0x7f0000001000), hone_profile_mapping(p, 1));
  assert_ptr_equal(hone_profile_find_mapping(p, 0, 0x1000), hone_profile_mapping(p, 0));
  assert_null(hone_profile_find_mapping(p, 0, 0x7f0000100000));
  assert_null(hone_profile_find_mapping(p, 1, 0x1000));
}

static void test_round_trip(void **state) {
  (void)state;
  size_t len;
  unsigned char *buf = sample(&len);
  hone_profile *p = NULL;
  char msg[256] = "";
  assert_int_equal(hone_profile_read_mem(buf, len, &p, msg, sizeof msg), 0);
  check_sample(p);
  hone_profile_free(p);

  /* And through a file on disk. */
  char path[] = "/tmp/hone-test-profdata-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, buf, len), (ssize_t)len);
  close(fd);
  assert_int_equal(hone_profile_read(path, &p, msg, sizeof msg), 0);
  check_sample(p);
  hone_profile_free(p);
  unlink(path);
  free(buf);
}

static void test_empty_profile(void **state) {
  (void)state;
  hone__prof_wsrc s = sample_src();
  s.nthreads = 0;
  s.nmaps = 0;
  s.argc = 0;
  size_t len;
  unsigned char *buf = write_to_mem(&s, &len);
  hone_profile *p = NULL;
  assert_int_equal(hone_profile_read_mem(buf, len, &p, NULL, 0), 0);
  assert_int_equal(hone_profile_thread_count(p), 0);
  assert_int_equal(hone_profile_mapping_count(p), 0);
  assert_int_equal(hone_profile_info(p)->argc, 0);
  hone_profile_free(p);
  free(buf);
  hone_profile_free(NULL);
}

static void test_missing_file(void **state) {
  (void)state;
  hone_profile *p = NULL;
  char msg[256] = "";
  assert_int_equal(hone_profile_read("/nonexistent/hone.prof", &p, msg, sizeof msg), HONE_ENOENT);
  assert_non_null(strstr(msg, "/nonexistent/hone.prof"));
  assert_null(p);
  /* A directory is not a stats file. */
  assert_int_equal(hone_profile_read("/", &p, msg, sizeof msg), HONE_EIO);
}

static void test_truncated_at_every_length(void **state) {
  (void)state;
  size_t len;
  unsigned char *buf = sample(&len);
  for (size_t l = 0; l < len; l++) {
    /* A copy of exactly l bytes, so that ASan sees any read past the end. */
    unsigned char *c = malloc(l ? l : 1);
    memcpy(c, buf, l);
    expect_refused(c, l, HONE_EFORMAT, "truncated");
    free(c);
  }
  /* Extra bytes at the end are refused too. */
  unsigned char *c = calloc(1, len + 3);
  memcpy(c, buf, len);
  expect_refused(c, len + 3, HONE_EFORMAT, "announces");
  free(c);
  free(buf);
}

static void test_wrong_magic(void **state) {
  (void)state;
  size_t len;
  unsigned char *buf = sample(&len);
  buf[0] = 'X';
  expect_refused(buf, len, HONE_EFORMAT, "not a hone stats file");
  expect_refused("#!/bin/sh\necho hi\n", 18, HONE_EFORMAT, "magic");
  free(buf);
}

static void test_other_version(void **state) {
  (void)state;
  size_t len;
  unsigned char *buf = sample(&len);
  hone__prof_header h;
  memcpy(&h, buf, sizeof h);
  h.version = 3;
  memcpy(buf, &h, sizeof h);
  expect_refused(buf, len, HONE_EVERSION, "version 3");
  /* The version is checked before the size, so a short file of a newer version says so. */
  expect_refused(buf, sizeof h, HONE_EVERSION, "version 3");
  h.version = 0;
  memcpy(buf, &h, sizeof h);
  expect_refused(buf, len, HONE_EVERSION, "version 0");
  free(buf);
}

/* A version 1 file (no sampling sections; the info record's last 16 bytes reserved) is still
 * read: its times are "instrumented" and the clock's reason "unknown". */
static void test_version1(void **state) {
  (void)state;
  size_t len;
  unsigned char *buf = sample(&len);
  hone__prof_header h;
  memcpy(&h, buf, sizeof h);
  h.version = 1;
  memcpy(buf, &h, sizeof h);
  hone_profile *p = NULL;
  char msg[256] = "";
  assert_int_equal(hone_profile_read_mem(buf, len, &p, msg, sizeof msg), 0);
  const hone_prof_info *in = hone_profile_info(p);
  assert_int_equal(in->version, 1);
  assert_string_equal(in->times, "instrumented");
  assert_string_equal(in->clock_why, "unknown");
  assert_true(in->sample_period_s == 0);
  assert_null(hone_profile_thread(p, 0)->samples);
  assert_memory_equal(hone_profile_thread(p, 0)->nodes, nodes0, sizeof nodes0);
  hone_profile_free(p);
  free(buf);
}

/* times 2: sampled, the hooks of sampled threads read no clock; read as "sampled-untimed". */
static void test_sampled_untimed(void **state) {
  (void)state;
  hone__prof_wsrc s = sample_src();
  s.times = HONE__TIMES_SAMPLED_UNTIMED;
  size_t len;
  unsigned char *buf = write_to_mem(&s, &len);
  hone_profile *p = NULL;
  char msg[256] = "";
  assert_int_equal(hone_profile_read_mem(buf, len, &p, msg, sizeof msg), 0);
  assert_string_equal(hone_profile_info(p)->times, "sampled-untimed");
  assert_memory_equal(hone_profile_thread(p, 0)->samples, samples0, sizeof samples0);
  hone_profile_free(p);
  free(buf);
}

/* The sampling fields of a version 2 file are checked like every other. */
static void test_bad_sampling(void **state) {
  (void)state;
  hone__prof_wsrc s = sample_src();
  s.sample_period_ns = 10;
  expect_src_refused(&s, "sample period 10 ns out of range");
  s = sample_src();
  s.times = 7;
  expect_src_refused(&s, "unknown time source 7");
  s = sample_src();
  s.times = HONE__TIMES_INSTRUMENTED;
  expect_src_refused(&s, "not sampled");
  s = sample_src();
  s.clock_why = 99;
  expect_src_refused(&s, "unknown clock choice 99");
  /* More samples than the run lasted: 1 s of period over a 0.64 us run with 1 s of slack. */
  s = sample_src();
  s.sample_period_ns = 1000000000;
  expect_src_refused(&s, "more than the run's length allows");
}

/* The sampling section: the scale and how it was obtained are read back, also onto each thread;
 * a file without the section (an earlier writer's: its id unknown here stands for absent) has
 * scale 1; a scale out of (0, 1], an unknown origin, or a scale in an unsampled file is refused. */
static void test_sample_scale(void **state) {
  (void)state;
  hone__prof_wsrc s = sample_src();
  s.sample_scale = 0.75;
  s.scale_how = HONE__SCALE_MEASURED;
  size_t len;
  unsigned char *buf = write_to_mem(&s, &len);
  hone_profile *p = NULL;
  char msg[256] = "";
  assert_int_equal(hone_profile_read_mem(buf, len, &p, msg, sizeof msg), 0);
  assert_true(hone_profile_info(p)->sample_scale == 0.75);
  assert_string_equal(hone_profile_info(p)->sample_scale_how, "measured");
  assert_true(hone_profile_thread(p, 0)->sample_scale == 0.75);
  hone_profile_free(p);
  /* The section's id made unknown: skipped, so absent. */
  hone__prof_header h;
  memcpy(&h, buf, sizeof h);
  int found = 0;
  for (uint32_t i = 0; i < h.nsections; i++) {
    hone__prof_section sec;
    memcpy(&sec, buf + h.header_size + i * sizeof sec, sizeof sec);
    if (sec.id != HONE__SEC_SAMPLING) continue;
    sec.id = 200;
    memcpy(buf + h.header_size + i * sizeof sec, &sec, sizeof sec);
    found = 1;
  }
  assert_true(found);
  assert_int_equal(hone_profile_read_mem(buf, len, &p, msg, sizeof msg), 0);
  assert_true(hone_profile_info(p)->sample_scale == 1);
  assert_string_equal(hone_profile_info(p)->sample_scale_how, "none");
  hone_profile_free(p);
  free(buf);

  s = sample_src();
  s.sample_scale = 1.5;
  s.scale_how = HONE__SCALE_MEASURED;
  expect_src_refused(&s, "sample scale 1.5 out of range");
  s = sample_src();
  s.sample_scale = 0.5;
  s.scale_how = 9;
  expect_src_refused(&s, "unknown sample scale origin 9");
  s = sample_src();
  s.times = HONE__TIMES_INSTRUMENTED;
  s.sample_period_ns = 0;
  s.sample_scale = 0.5;
  s.scale_how = HONE__SCALE_GIVEN;
  expect_src_refused(&s, "sample scale 0.5 in a file that was not sampled");
}

static void test_foreign(void **state) {
  (void)state;
  size_t len;
  unsigned char *buf = sample(&len);
  hone__prof_header h;
  memcpy(&h, buf, sizeof h);
  hone__prof_header sw = h;
  sw.byte_order = __builtin_bswap32(HONE__PROF_BYTE_ORDER);
  sw.version = __builtin_bswap32(1);
  memcpy(buf, &sw, sizeof sw);
  expect_refused(buf, len, HONE_EFOREIGN, "byte order");
  hone__prof_header arch = h;
  arch.e_machine = HONE__PROF_E_MACHINE == 183 ? 62 : 183;
  memcpy(buf, &arch, sizeof arch);
  expect_refused(buf, len, HONE_EFOREIGN,
                 HONE__PROF_E_MACHINE == 183 ? "another architecture (x86_64"
                                             : "another architecture (aarch64");
  hone__prof_header junk = h;
  junk.byte_order = 0x11223344;
  memcpy(buf, &junk, sizeof junk);
  expect_refused(buf, len, HONE_EFORMAT, "byte-order");
  free(buf);
}

/* Finds section `id` in a sample file; returns its table entry's offset in the file. */
static size_t section_entry(const unsigned char *buf, uint32_t id, hone__prof_section *out) {
  hone__prof_header h;
  memcpy(&h, buf, sizeof h);
  for (uint32_t i = 0; i < h.nsections; i++) {
    size_t at = h.header_size + i * sizeof *out;
    memcpy(out, buf + at, sizeof *out);
    if (out->id == id) return at;
  }
  fail_msg("no section %u", id);
  return 0;
}

static void test_corrupt_offsets(void **state) {
  (void)state;
  size_t len;
  unsigned char *orig = sample(&len), *buf = malloc(len);
  hone__prof_section s;

  for (uint32_t id = HONE__SEC_INFO; id <= HONE__SEC_LAST; id++) {
    memcpy(buf, orig, len);
    size_t at = section_entry(buf, id, &s);
    s.offset = len - 1;
    s.size = 16;
    memcpy(buf + at, &s, sizeof s);
    expect_refused(buf, len, HONE_EFORMAT, "outside the file");
    /* Overflowing offset + size. */
    s.offset = 64;
    s.size = UINT64_MAX - 8;
    memcpy(buf + at, &s, sizeof s);
    expect_refused(buf, len, HONE_EFORMAT, "outside the file");
    /* A missing section. */
    memcpy(buf, orig, len);
    at = section_entry(orig, id, &s);
    s.id = 99;
    memcpy(buf + at, &s, sizeof s);
    expect_refused(buf, len, HONE_EFORMAT, "missing");
  }

  /* Duplicate section. */
  memcpy(buf, orig, len);
  size_t at = section_entry(buf, HONE__SEC_NODES, &s);
  s.id = HONE__SEC_THREADS;
  memcpy(buf + at, &s, sizeof s);
  expect_refused(buf, len, HONE_EFORMAT, "twice");

  /* Wrong entry size. */
  memcpy(buf, orig, len);
  at = section_entry(buf, HONE__SEC_NODES, &s);
  s.entsize = 48;
  memcpy(buf + at, &s, sizeof s);
  expect_refused(buf, len, HONE_EFORMAT, "entries of 48 bytes");

  /* Section count larger than the file can hold. */
  memcpy(buf, orig, len);
  hone__prof_header h;
  memcpy(&h, buf, sizeof h);
  h.nsections = 64;
  memcpy(buf, &h, sizeof h);
  expect_refused(buf, len, HONE_EFORMAT, "section");
  h.nsections = 1u << 30;
  memcpy(buf, &h, sizeof h);
  expect_refused(buf, len, HONE_EFORMAT, "sections");

  /* The string section without its final NUL. */
  memcpy(buf, orig, len);
  section_entry(buf, HONE__SEC_STRS, &s);
  buf[s.offset + s.size - 1] = 'x';
  expect_refused(buf, len, HONE_EFORMAT, "NUL");

  /* A string offset out of range, in each place that has one. */
  memcpy(buf, orig, len);
  hone__prof_section strs;
  section_entry(buf, HONE__SEC_STRS, &strs);
  section_entry(buf, HONE__SEC_THREADS, &s);
  hone__prof_thread_rec tr;
  memcpy(&tr, buf + s.offset, sizeof tr);
  tr.name_off = strs.size;
  memcpy(buf + s.offset, &tr, sizeof tr);
  expect_refused(buf, len, HONE_EFORMAT, "name offset");

  memcpy(buf, orig, len);
  section_entry(buf, HONE__SEC_INFO, &s);
  hone__prof_info_rec in;
  memcpy(&in, buf + s.offset, sizeof in);
  hone__prof_info_rec bad = in;
  bad.machine_off = UINT64_MAX;
  memcpy(buf + s.offset, &bad, sizeof bad);
  expect_refused(buf, len, HONE_EFORMAT, "machine");
  bad = in;
  bad.argc = 1000000;
  memcpy(buf + s.offset, &bad, sizeof bad);
  expect_refused(buf, len, HONE_EFORMAT, "argc");
  bad = in;
  bad.argc = (uint32_t)strs.size; /* plausible count, but the strings run out */
  memcpy(buf + s.offset, &bad, sizeof bad);
  expect_refused(buf, len, HONE_EFORMAT, "command line");
  bad = in;
  bad.clock = 7;
  memcpy(buf + s.offset, &bad, sizeof bad);
  expect_refused(buf, len, HONE_EFORMAT, "clock");
  bad = in;
  bad.ticks_per_second = 0.0 / 0.0;
  memcpy(buf + s.offset, &bad, sizeof bad);
  expect_refused(buf, len, HONE_EFORMAT, "frequency");
  bad = in;
  bad.overhead_outer_ticks = -1;
  memcpy(buf + s.offset, &bad, sizeof bad);
  expect_refused(buf, len, HONE_EFORMAT, "overheads");

  /* Threads whose node ranges do not tile the node section. */
  memcpy(buf, orig, len);
  section_entry(buf, HONE__SEC_THREADS, &s);
  memcpy(&tr, buf + s.offset + sizeof tr, sizeof tr);
  tr.first_node = 3;
  memcpy(buf + s.offset + sizeof tr, &tr, sizeof tr);
  expect_refused(buf, len, HONE_EFORMAT, "previous thread");
  tr.first_node = 4;
  tr.nnodes = UINT64_MAX;
  memcpy(buf + s.offset + sizeof tr, &tr, sizeof tr);
  expect_refused(buf, len, HONE_EFORMAT, "more nodes");
  tr.nnodes = 1;
  memcpy(buf + s.offset + sizeof tr, &tr, sizeof tr);
  expect_refused(buf, len, HONE_EFORMAT, "belong to no thread");

  /* Nodes: parent not below its own index, reserved flags, excl > incl. */
  hone_prof_node n;
  section_entry(orig, HONE__SEC_NODES, &s);
  size_t node2 = s.offset + 2 * sizeof n;
  memcpy(buf, orig, len);
  memcpy(&n, buf + node2, sizeof n);
  n.parent = 2;
  memcpy(buf + node2, &n, sizeof n);
  expect_refused(buf, len, HONE_EFORMAT, "node 2 has a parent index");
  n.parent = 3;
  memcpy(buf + node2, &n, sizeof n);
  expect_refused(buf, len, HONE_EFORMAT, "parent index");
  memcpy(buf, orig, len);
  memcpy(&n, buf + node2, sizeof n);
  n.flags = 1;
  memcpy(buf + node2, &n, sizeof n);
  expect_refused(buf, len, HONE_EFORMAT, "flags");
  memcpy(buf, orig, len);
  memcpy(&n, buf + node2, sizeof n);
  n.excl = n.incl + 1;
  memcpy(buf + node2, &n, sizeof n);
  expect_refused(buf, len, HONE_EFORMAT, "exclusive");

  /* Mappings. */
  section_entry(orig, HONE__SEC_MAPS, &s);
  hone__prof_map_rec m;
  memcpy(buf, orig, len);
  memcpy(&m, buf + s.offset, sizeof m);
  hone__prof_map_rec mb = m;
  mb.start = mb.end + 1;
  memcpy(buf + s.offset, &mb, sizeof mb);
  expect_refused(buf, len, HONE_EFORMAT, "mapping 0 ends before");
  mb = m;
  mb.build_id_off = strs.size - 2;
  memcpy(buf + s.offset, &mb, sizeof mb);
  expect_refused(buf, len, HONE_EFORMAT, "build-id outside");
  mb = m;
  mb.build_id_off = UINT64_MAX - 2;
  memcpy(buf + s.offset, &mb, sizeof mb);
  expect_refused(buf, len, HONE_EFORMAT, "build-id outside");
  mb = m;
  mb.path_off = strs.size + 100;
  memcpy(buf + s.offset, &mb, sizeof mb);
  expect_refused(buf, len, HONE_EFORMAT, "path offset");

  free(buf);
  free(orig);
}

/* Every single-byte change either reads or is refused cleanly (ASan/UBSan watch the reads). */
static void test_every_byte_flipped(void **state) {
  (void)state;
  size_t len;
  unsigned char *buf = sample(&len);
  for (size_t i = 0; i < len; i++) {
    for (int v = 0; v < 3; v++) {
      unsigned char save = buf[i];
      buf[i] = v == 0 ? 0xff : v == 1 ? 0x00 : (unsigned char)(save ^ 0x80);
      hone_profile *p = NULL;
      char msg[256] = "";
      int rc = hone_profile_read_mem(buf, len, &p, msg, sizeof msg);
      if (rc == 0) {
        assert_non_null(p);
        hone_profile_free(p);
      } else {
        assert_null(p);
        assert_true(msg[0] != '\0');
      }
      buf[i] = save;
    }
  }
  free(buf);
}

/* Write errors are reported, never silent: a full disk, a closed descriptor. */
static void test_write_errors(void **state) {
  (void)state;
  hone__prof_wsrc s = sample_src();
  int fd = open("/dev/full", O_WRONLY);
  if (fd >= 0) {
    assert_int_equal(hone__prof_write_fd(fd, &s), HONE_EIO);
    close(fd);
  }
  int p[2];
  assert_int_equal(pipe(p), 0);
  close(p[1]);
  assert_int_equal(hone__prof_write_fd(p[1], &s), HONE_EIO);
  close(p[0]);
}

static void test_merge(void **state) {
  (void)state;
  size_t len;
  unsigned char *a = sample(&len);
  hone__prof_wsrc s = sample_src();
  s.clock = HONE__CLOCK_MONOTONIC;
  s.ticks_per_second = 1.25e9; /* half of a's: b's ticks count double in a's units */
  s.pid = 5000;
  size_t blen;
  unsigned char *b = write_to_mem(&s, &blen);
  hone_profile *pa = NULL, *pb = NULL;
  assert_int_equal(hone_profile_read_mem(a, len, &pa, NULL, 0), 0);
  assert_int_equal(hone_profile_read_mem(b, blen, &pb, NULL, 0), 0);
  assert_int_equal(hone_profile_merge(pa, pb), 0);
  assert_int_equal(hone_profile_merge(pa, pa), HONE_EINVAL);
  const hone_prof_info *in = hone_profile_info(pa);
  assert_int_equal(in->nfiles, 2);
  assert_int_equal(in->pid, 4242);
  assert_int_equal(in->total_ticks, 1600 + 3200);
  assert_true(in->overhead_inner_ticks > 12.5 && in->overhead_inner_ticks < 25.0);
  assert_int_equal(hone_profile_thread_count(pa), 4);
  assert_int_equal(hone_profile_mapping_count(pa), 6);
  const hone_prof_thread *t = hone_profile_thread(pa, 2);
  assert_int_equal(t->file, 1);
  assert_string_equal(t->name, "main");
  assert_int_equal(t->nodes[0].incl, 2000);
  assert_int_equal(t->nodes[0].excl, 200);
  assert_int_equal(t->nodes[1].calls, 10);
  assert_int_equal(hone_profile_thread(pa, 0)->file, 0);
  assert_int_equal(hone_profile_thread(pa, 0)->nodes[0].incl, 1000);
  const hone_prof_mapping *m = hone_profile_find_mapping(pa, 1, 0x7f0000001000);
  assert_non_null(m);
  assert_int_equal(m->file, 1);
  assert_memory_equal(m->build_id, bid + 4, 8);
  assert_ptr_not_equal(m, hone_profile_find_mapping(pa, 0, 0x7f0000001000));

  /* `from` is unchanged and still usable after the merge; a third file numbers on. */
  assert_int_equal(hone_profile_info(pb)->nfiles, 1);
  assert_int_equal(hone_profile_thread_count(pb), 2);
  assert_int_equal(hone_profile_thread(pb, 0)->nodes[0].incl, 1000);
  assert_int_equal(hone_profile_merge(pb, pa), 0);
  assert_int_equal(hone_profile_info(pb)->nfiles, 3);
  assert_int_equal(hone_profile_thread(pb, 4)->file, 2);
  hone_profile_free(pa);
  hone_profile_free(pb);
  free(a);
  free(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_empty_profile),
      cmocka_unit_test(test_missing_file),
      cmocka_unit_test(test_truncated_at_every_length),
      cmocka_unit_test(test_wrong_magic),
      cmocka_unit_test(test_other_version),
      cmocka_unit_test(test_version1),
      cmocka_unit_test(test_sampled_untimed),
      cmocka_unit_test(test_sample_scale),
      cmocka_unit_test(test_bad_sampling),
      cmocka_unit_test(test_foreign),
      cmocka_unit_test(test_corrupt_offsets),
      cmocka_unit_test(test_every_byte_flipped),
      cmocka_unit_test(test_write_errors),
      cmocka_unit_test(test_merge),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

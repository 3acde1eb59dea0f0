/* viewdata.h: what the two viewers' writers (export/svg.c, export/html.c) share: the embedded
 * assets (export/assets/, turned into byte arrays by cmake/embed.cmake) and the profile data
 * they carry, a JSON document of schema "hone-view" version 1 (docs/view-data.md). Internal to
 * libhone. */
#ifndef HONE_PROFILE_VIEWDATA_H
#define HONE_PROFILE_VIEWDATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "hone/export.h"
#include "hone/report.h"

#define HONE__ASSET(id)                                                                            \
  extern const unsigned char hone__asset_##id[];                                                   \
  extern const size_t hone__asset_##id##_len;
HONE__ASSET(common_js)
HONE__ASSET(flame_js)
HONE__ASSET(view_js)
HONE__ASSET(view_css)
HONE__ASSET(view_html)
#undef HONE__ASSET

/* Writes an asset's bytes. */
#define HONE__PUT_ASSET(out, id) fwrite(hone__asset_##id, 1, hone__asset_##id##_len, (out))

/* How the data is cut: one profile of the section's nodes, or (diff) two profiles, A from the
 * report's file 0 and B from its file 1. `options_json` (may be NULL) is written as the value of
 * "options": a JSON object the caller formats. */
typedef struct hone__view_spec {
  size_t section;
  bool diff;
  const char *options_json;
} hone__view_spec;

/* Writes the document. Every string is escaped so that the JSON can sit inside an HTML <script>
 * or an XML CDATA section unchanged ('<', '>' and '&' as \u escapes). Returns 0, HONE_ENOMEM,
 * or HONE_EINVAL (diff of a report that does not hold exactly two files; message in errbuf). */
int hone__view_write_data(const hone_report *r, const hone__view_spec *spec,
                          const hone_export_options *o, FILE *out, char *errbuf, size_t errlen);

/* A string escaped as in the data, for titles written into markup by the writers ('<', '>',
 * '&', '"' as entities). */
void hone__view_write_xml_text(FILE *out, const char *s);

#endif /* HONE_PROFILE_VIEWDATA_H */

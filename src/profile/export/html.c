/* html.c: the "html" and "html-diff" exports (`hone view`, `hone view --diff A B`): one HTML
 * file, the page skeleton (assets/view.html) with the style (view.css), the profile data
 * (view/viewdata.c) and the script (common.js + view.js) put in its three marked places.
 * No CDN, nothing fetched: it opens from disk. */
#include <stdio.h>
#include <string.h>

#include "view/viewdata.h"
#include "writer.h"

/* Writes the skeleton, replacing each <!--HONE:X--> marker by part X. */
static int write_page(const hone_report *r, size_t section, bool diff, const hone_export_options *o,
                      FILE *out, char *errbuf, size_t errlen) {
  const char *p = (const char *)hone__asset_view_html;
  const char *end = p + hone__asset_view_html_len;
  static const char mark[] = "<!--HONE:";
  while (p < end) {
    const char *m = strstr(p, mark);
    if (!m) {
      fwrite(p, 1, (size_t)(end - p), out);
      break;
    }
    fwrite(p, 1, (size_t)(m - p), out);
    const char *what = m + sizeof mark - 1;
    const char *close = strstr(what, "-->");
    if (!close) return HONE_EFORMAT;
    if (strncmp(what, "CSS", 3) == 0) {
      HONE__PUT_ASSET(out, view_css);
    } else if (strncmp(what, "JS", 2) == 0) {
      HONE__PUT_ASSET(out, common_js);
      HONE__PUT_ASSET(out, view_js);
    } else if (strncmp(what, "DATA", 4) == 0) {
      hone__view_spec spec = {section, diff, NULL};
      int rc = hone__view_write_data(r, &spec, o, out, errbuf, errlen);
      if (rc) return rc;
    }
    p = close + 3;
  }
  return 0;
}

int hone__export_html(const hone_report *r, size_t section, const hone_export_options *o, FILE *out,
                      char *errbuf, size_t errlen) {
  return write_page(r, section, false, o, out, errbuf, errlen);
}

int hone__export_html_diff(const hone_report *r, size_t section, const hone_export_options *o,
                           FILE *out, char *errbuf, size_t errlen) {
  return write_page(r, section, true, o, out, errbuf, errlen);
}

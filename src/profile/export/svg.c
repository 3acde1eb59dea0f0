/* svg.c: the "svg" and "svg-icicle" exports (`hone flame`, `hone flame --reverse`): one
 * self-contained SVG file holding the profile data (view/viewdata.c) and the script that draws
 * the flame graph from it (assets/common.js + assets/flame.js): hover shows function,
 * file:line, calls, time and share; click zooms; search highlights. Nothing is fetched. A viewer
 * without scripts (an image viewer) shows the title and a line saying a web browser is needed. */
#include <stdio.h>

#include "view/viewdata.h"
#include "writer.h"

static int write_svg(const hone_report *r, size_t section, const hone_export_options *o, FILE *out,
                     char *errbuf, size_t errlen, int reverse) {
  const hone_report_file *f0 = hone_report_file_info(r, 0);
  const char *title = o && o->title ? o->title : f0 ? f0->label : "profile";
  fputs("<?xml version=\"1.0\" standalone=\"no\"?>\n"
        "<!-- Written by `hone flame` (libhone's svg export). Self-contained: the profile (schema "
        "\"hone-view\", docs/view-data.md) and the script are inside; open it in a web browser. "
        "-->\n"
        "<svg version=\"1.1\" xmlns=\"http://www.w3.org/2000/svg\" width=\"1200\" height=\"120\" "
        "viewBox=\"0 0 1200 120\" data-generator=\"hone\">\n"
        "<style>\n"
        "text { font-family: 'DejaVu Sans Mono', Menlo, monospace; font-size: 11px; fill: #111; }\n"
        "#title { font-size: 16px; font-family: 'DejaVu Sans', sans-serif; }\n"
        ".button { cursor: pointer; fill: #2a4fb8; font-family: 'DejaVu Sans', sans-serif; "
        "font-size: 12px; }\n"
        ".frame { cursor: pointer; }\n"
        ".frame text { pointer-events: none; }\n"
        ".frame:hover rect { stroke: #333; stroke-width: 0.8; }\n"
        "</style>\n"
        "<defs><linearGradient id=\"bg\" y1=\"0\" y2=\"1\" x1=\"0\" x2=\"0\">"
        "<stop stop-color=\"#eeeeee\" offset=\"5%\"/><stop stop-color=\"#eeeeb0\" "
        "offset=\"95%\"/></linearGradient></defs>\n"
        "<rect id=\"background\" x=\"0\" y=\"0\" width=\"1200\" height=\"120\" "
        "fill=\"url(#bg)\"/>\n"
        "<text id=\"title\" x=\"600\" y=\"22\" text-anchor=\"middle\">",
        out);
  fputs(reverse ? "Icicle graph: " : "Flame graph: ", out);
  hone__view_write_xml_text(out, title);
  fputs(
      "</text>\n"
      "<text id=\"unzoom\" class=\"button\" x=\"10\" y=\"22\">Reset zoom</text>\n"
      "<text id=\"search\" class=\"button\" x=\"1190\" y=\"22\" text-anchor=\"end\">Search</text>\n"
      "<text id=\"matched\" x=\"1190\" y=\"40\" text-anchor=\"end\"> </text>\n"
      "<text id=\"noscript\" x=\"600\" y=\"70\" text-anchor=\"middle\">This flame graph is drawn "
      "by its embedded script: open the file in a web browser.</text>\n"
      "<g id=\"frames\"></g>\n"
      "<text id=\"details\" x=\"10\" y=\"110\"> </text>\n"
      "<script type=\"application/json\" id=\"hone-data\"><![CDATA[\n",
      out);
  hone__view_spec spec = {section, false, reverse ? "{\"reverse\":true}" : "{\"reverse\":false}"};
  int rc = hone__view_write_data(r, &spec, o, out, errbuf, errlen);
  if (rc) return rc;
  fputs("]]></script>\n<script type=\"text/javascript\"><![CDATA[\n", out);
  HONE__PUT_ASSET(out, common_js);
  HONE__PUT_ASSET(out, flame_js);
  fputs("]]></script>\n</svg>\n", out);
  return 0;
}

int hone__export_svg(const hone_report *r, size_t section, const hone_export_options *o, FILE *out,
                     char *errbuf, size_t errlen) {
  return write_svg(r, section, o, out, errbuf, errlen, 0);
}

int hone__export_svg_icicle(const hone_report *r, size_t section, const hone_export_options *o,
                            FILE *out, char *errbuf, size_t errlen) {
  return write_svg(r, section, o, out, errbuf, errlen, 1);
}

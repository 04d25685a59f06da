# embed_sql.cmake: writes OUT, a C file with one string per SQL file in
# FILES ('|'-separated), named ana_<basename>_sql (schema.sql -> ana_schema_sql), as hex
# bytes so no quoting of the SQL text can go wrong. Run with cmake -P.
string(REPLACE "|" ";" FILES "${FILES}")
set(body "/* Generated from the analysis SQL files by embed_sql.cmake; do not edit. */\n")
foreach(f IN LISTS FILES)
  get_filename_component(base ${f} NAME_WE)
  file(READ ${f} hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
  string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" hex "${hex}")
  string(APPEND body "extern const char ana_${base}_sql[];\nconst char ana_${base}_sql[] = {\n${hex}0x00};\n")
endforeach()
file(WRITE ${OUT} "${body}")

# embed_schema.cmake: cmake -DIN=schema.sql -DOUT=rpl_schema.c -P this file.
# Writes the schema as a C byte array plus its PRAGMA user_version.
file(READ ${IN} hex HEX)
file(READ ${IN} text)
string(REGEX MATCH "PRAGMA user_version = ([0-9]+)" m "${text}")
if(NOT m)
  message(FATAL_ERROR "${IN}: no 'PRAGMA user_version = N' line")
endif()
set(version ${CMAKE_MATCH_1})
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n  " bytes "${bytes}")
file(WRITE ${OUT}.tmp
"/* rpl_schema.c: generated from analysis/schema.sql by embed_schema.cmake.\n"
" * Do not edit. */\n"
"const int rpl_schema_version = ${version};\n"
"const char rpl_schema_sql[] = {\n  ${bytes}0x00};\n")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)

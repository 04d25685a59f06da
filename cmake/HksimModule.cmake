# hk_module(NAME SOURCES ... [DEPS module ...] [LIBS external ...])
# Declares the static library of one module (target hk_NAME). DEPS are other
# project modules and must be allowed by the dependency column of DESIGN.md,
# written down once here; a forbidden edge stops the configure step.
set(HK_ALLOWED_common   "")
set(HK_ALLOWED_traces   "common")
set(HK_ALLOWED_recorder "traces;common")
set(HK_ALLOWED_policies "common")
set(HK_ALLOWED_hakmem   "policies;common")
set(HK_ALLOWED_replayer "traces;hakmem;policies;common")
set(HK_ALLOWED_analysis "common")
# cli/ (the hksim program) fronts every module and may use them all.
set(HK_ALLOWED_cli      "common;traces;recorder;policies;hakmem;replayer;analysis")

function(hk_check_deps name)
  foreach(dep IN LISTS ARGN)
    if(NOT dep IN_LIST HK_ALLOWED_${name})
      message(FATAL_ERROR "module '${name}' may not depend on '${dep}' "
                          "(allowed: ${HK_ALLOWED_${name}}); see DESIGN.md")
    endif()
  endforeach()
endfunction()

function(hk_module name)
  cmake_parse_arguments(M "" "" "SOURCES;DEPS;LIBS" ${ARGN})
  hk_check_deps(${name} ${M_DEPS})
  add_library(hk_${name} STATIC ${M_SOURCES})
  target_include_directories(hk_${name} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
  foreach(dep IN LISTS M_DEPS)
    target_link_libraries(hk_${name} PUBLIC hk_${dep})
  endforeach()
  if(M_LIBS)
    target_link_libraries(hk_${name} PUBLIC ${M_LIBS})
  endif()
endfunction()

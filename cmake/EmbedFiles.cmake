# layersift_embed_files(OUTPUT out.cc NAMESPACE ns FUNCTION fn FILES a b ...)
# Generates a C++ source that defines
#   std::span<const layersift::EmbeddedFile> ns::fn();
# holding each file's name and bytes, so data files (rules, exclusion lists) ship inside the binary
# and stay data in the repository.
function(layersift_embed_files)
  cmake_parse_arguments(EMB "" "OUTPUT;NAMESPACE;FUNCTION" "FILES" ${ARGN})
  set(generator ${PROJECT_SOURCE_DIR}/cmake/embed_files_gen.cmake)
  add_custom_command(
    OUTPUT ${EMB_OUTPUT}
    COMMAND ${CMAKE_COMMAND} -DOUTPUT=${EMB_OUTPUT} -DNAMESPACE=${EMB_NAMESPACE}
            -DFUNCTION=${EMB_FUNCTION} "-DFILES=${EMB_FILES}" -P ${generator}
    DEPENDS ${EMB_FILES} ${generator}
    COMMENT "Embedding ${EMB_FUNCTION} data files"
    VERBATIM)
endfunction()

#pragma once

// The whole public API of modelreg. ModelRegistry::open and SqliteMetadataStore need the
// modelreg::sqlite library; everything else is in modelreg::modelreg.

#include "modelreg/bytes.hpp"
#include "modelreg/durability.hpp"
#include "modelreg/error.hpp"
#include "modelreg/file_model_store.hpp"
#include "modelreg/in_memory_metadata_store.hpp"
#include "modelreg/in_memory_model_store.hpp"
#include "modelreg/logging.hpp"
#include "modelreg/metadata_store.hpp"
#include "modelreg/model_event.hpp"
#include "modelreg/model_framework.hpp"
#include "modelreg/model_metrics.hpp"
#include "modelreg/model_registry.hpp"
#include "modelreg/model_stage.hpp"
#include "modelreg/model_store.hpp"
#include "modelreg/model_uri.hpp"
#include "modelreg/model_version.hpp"
#include "modelreg/registered_model.hpp"
#include "modelreg/registry_options.hpp"
#include "modelreg/search.hpp"
#include "modelreg/sqlite_metadata_store.hpp"
#include "modelreg/timestamp.hpp"
#include "modelreg/validation.hpp"
#include "modelreg/version.hpp"
#include "modelreg/watch.hpp"

#include "common/env.hpp"

namespace mhr {

std::string_view counter_name(Counter c) {
  switch (c) {
    case Counter::kRecordsStored:
      return "records_stored";
    case Counter::kRecordsForwarded:
      return "records_forwarded";
    case Counter::kRecordsRejected:
      return "records_rejected";
    case Counter::kVerifyFailures:
      return "verify_failures";
    case Counter::kRetries:
      return "retries";
    case Counter::kGaveUp:
      return "gave_up";
    case Counter::kBlocksCommitted:
      return "blocks_committed";
    case Counter::kMigrationsCompleted:
      return "migrations_completed";
    case Counter::kRecordsMigrated:
      return "records_migrated";
    case Counter::kCount_:
      break;
  }
  return "?";
}

}  // namespace mhr

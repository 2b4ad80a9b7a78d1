#include "common/env.hpp"

namespace mhr {

std::string_view log_level_name(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "?";
}

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
    case Counter::kAccessRefused:
      return "access_refused";
    case Counter::kBlobsFetched:
      return "blobs_fetched";
    case Counter::kBlocksPipelined:
      return "blocks_pipelined";
    case Counter::kCount_:
      break;
  }
  return "?";
}

}  // namespace mhr

// A run's config checked before anything is allocated: every setting in its range (the table in settings.hpp),
// the labels for the task, room for one batch, and the memory the run will take.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <type_traits>

#include "fasttab/communicator.hpp"
#include "fasttab/error.hpp"
#include "fasttab/model.hpp"
#include "fasttab/names.hpp"
#include "fasttab/settings.hpp"
#include "host/backend/fused_mlp.hpp"
#include "host/loaders/loader.hpp"
#include "host/train/training_run.hpp"

namespace fasttab {
namespace {

// Features read in place (Dataset::train_features on a backend that can read them, unstandardised) take none.
double bytes_needed(const TrainConfig& c, const Dataset& d, std::int64_t train_rows, bool features_in_place) {
  return run_bytes_needed(c, d.train.cols, train_rows, d.test.rows, features_in_place);
}

// Binary task: a split holding one class has no AUC. Said once, before training, with what would change it.
void warn_single_class(Task task, const float* labels, std::int64_t rows, const std::string& what,
                       const std::string& remedy) {
  if (task != Task::binary || rows == 0) return;
  for (std::int64_t r = 1; r < rows; ++r)
    if (labels[r] != labels[0]) return;
  std::fprintf(stderr, "warning: %s holds only class %g: its AUC is undefined (nan); %s\n", what.c_str(),
               double(labels[0]), remedy.c_str());
}

// The test set in words, from how the dataset was split (Dataset::split), for that warning.
std::string test_set_words(const Dataset& data) {
  if (data.split == "last rows") return "the test set (the file's last " + std::to_string(data.test.rows) + " rows)";
  if (data.split == "test file") return "the test set (the --test-data file)";
  if (data.split.rfind("random test", 0) == 0) return "the test set (its random rows)";
  return "the evaluation set";  // a library caller's own test table (the Python eval_set)
}

}  // namespace

// The resident tables, the model (parameters, gradients, activations), the optimiser state, the batch buffers and
// the evaluation outputs.
double run_bytes_needed(const TrainConfig& c, int feature_cols, std::int64_t train_rows, std::int64_t test_rows,
                        bool features_in_place) {
  const double f = sizeof(float);
  const MlpSpec layout = padded_spec(c.model, c.pad_hidden);  // the widths the engine runs at
  const double params = double(layout.parameter_count());
  const int width = c.model.outputs;
  const double cols = feature_cols + 1;  // features and the label
  const double table_cols = features_in_place ? 1 : cols;
  double bytes = 0;
  if (loader_needs_device_table(c.loader)) bytes += double(train_rows) * table_cols * f;
  bytes += double(test_rows + c.val_rows) * table_cols * f;
  const double optimizer_state = 2;  // two state vectors for every optimiser (zeros where unused)
  bytes += params * f * (optimizer_state + (c.val_rows > 0 ? 1 : 0));                        // + best weights
  bytes += Mlp::bytes_needed(c.model, c.batch_size, c.precision, c.pad_hidden, c.fused_mlp);  // the model
  bytes += double(c.batch_size) * f * width;                                                 // loss gradient
  bytes += double(c.batch_size) * f * 2 * (cols + 1);                                        // batch buffers
  bytes += double(test_rows + c.val_rows) * width * f;                                       // evaluation outputs
  bytes += double(train_rows) * 4;                                                           // permutation, losses
  const double cublas_workspace = double(32 << 20);  // per cuBLAS handle (CUDA; the CPU needs none: a margin)
  bytes += cublas_workspace * (c.overlap_weight_gradients ? 2 : 1);                          // + the side queue's
  // A batch of the widest layer (its padded width), the largest GEMM operand: cublaslt-timed times its candidates
  // into a scratch C that large (CUDA, freed after); the CPU's bf16 GEMMs widen A and B to float32 scratch kept
  // between calls, at most two such operands (on CUDA that is a margin, as the workspace is on the CPU).
  int widest = std::max(c.model.outputs, Mlp::bf16_ld(layout.input_width()));
  for (int h : layout.hidden) widest = std::max(widest, Mlp::bf16_ld(h));
  const double widest_operand = double(c.batch_size) * widest * f;
  if (c.gemm == GemmLibrary::cublaslt_timed) bytes += widest_operand;
  if (c.precision == Precision::bf16) bytes += 2 * widest_operand;
  if (c.cuda_graphs) {  // the captured step's batch copy and the run's schedule
    const double steps = std::ceil(double(train_rows) / c.batch_size) * c.epochs;
    bytes += double(c.batch_size) * (cols + 4) * f + steps * 3 * f;
  }
  return bytes;
}

bool vote_for_shard(Backend& backend, const TrainConfig& c, double replicated_bytes, double sharded_bytes,
                    std::int64_t train_rows, int ranks, Communicator* comm) {
  if (ranks <= 1 || c.shard) return false;
  const double free = double(backend.free_bytes());
  std::int64_t votes[2] = {replicated_bytes > free ? 1 : 0, sharded_bytes <= free ? 0 : 1};  // too big; sharded
  if (comm != nullptr) comm->all_reduce_sum_host(votes, 2);
  if (!(votes[0] > 0 && votes[1] == 0 && c.batch_size % ranks == 0)) return false;
  if (comm == nullptr || comm->rank() == 0)
    std::printf("note: the replicated run needs %lld bytes of %s memory per rank, more than the %lld available; "
                "training sharded instead (--shard: each of the %d ranks holds %lld of the %lld training rows, %lld "
                "bytes)\n", static_cast<long long>(replicated_bytes), backend.kind(), static_cast<long long>(free),
                ranks, static_cast<long long>(train_rows / ranks), static_cast<long long>(train_rows),
                static_cast<long long>(sharded_bytes));
  return true;
}

void TrainConfig::validate() const {
  for_each_setting(*this, [](const Setting& s, const auto& value) {
    using T = std::decay_t<decltype(value)>;
    if constexpr (std::is_arithmetic_v<T> && !std::is_same_v<T, bool>) {
      const std::string why = out_of_range(s, double(value));
      FASTTAB_REQUIRE(why.empty(), s.flag, " ", value, ": ", why);
    }
  });
  FASTTAB_REQUIRE(val_fraction == 0 || (std::isfinite(val_fraction) && val_fraction > 0 && val_fraction < 1),
                  "--val-fraction ", val_fraction, ": must be a fraction in (0, 1), ends excluded");
  FASTTAB_REQUIRE(val_fraction == 0 || val_rows == 0, "--val-fraction ", val_fraction, " and --val-rows ", val_rows,
                  " both choose the validation rows: give one of them");
  FASTTAB_REQUIRE(patience == 0 || val_rows > 0 || val_fraction > 0,
                  "--patience needs a validation split: set --val-rows or --val-fraction");
  FASTTAB_REQUIRE(!log_target || task == Task::regression, "--log-target is for --task regression (the task is ",
                  name_of(task), ")");
  FASTTAB_REQUIRE(task != Task::multiclass || classes == 0 || classes >= 2, "--classes ", classes, " must be >= 2");
  require_loader_name(loader);
  if (fused_mlp) {
    const std::string refusal = fused_mlp_settings_error(precision, pad_hidden);
    FASTTAB_REQUIRE(refusal.empty(), refusal);
  }
  if (!save_path.empty()) {
    // Refused before training rather than at the end of the first epoch.
    const std::filesystem::path dir = std::filesystem::absolute(save_path).parent_path();
    FASTTAB_REQUIRE(std::filesystem::is_directory(dir), "--save ", save_path, ": the directory ", dir.string(),
                    " does not exist");
  }
  model.validate();
}

TrainConfig resolve_config(Backend& backend, const TrainConfig& config, const Dataset& data, int ranks,
                           Communicator* comm) {
  config.validate();
  TrainConfig c = config;
  const int classes = validate_labels(c.task, c.classes, data.train, data.source + " (training rows)");
  validate_labels(c.task, classes, data.test, data.source + " (test rows)");
  c.model.inputs = data.train.cols;
  c.model.outputs = c.task == Task::multiclass ? classes : 1;
  FASTTAB_REQUIRE(data.train.categorical.empty() && data.test.categorical.empty(), data.source, ": its categorical "
                  "columns are not encoded yet (encode_categories builds their vocabularies on the training rows)");
  c.model.embeddings.clear();
  for (const Vocabulary& v : data.train.vocabularies) {
    const int dim = c.embedding_dim > 0 ? c.embedding_dim : default_embedding_dim(v.cardinality());
    c.model.embeddings.push_back(EmbeddingSpec{v.feature, v.cardinality(), dim});
  }
  c.model.validate();
  if (c.fused_mlp) {
    const std::string why_not = fused_mlp_unsupported(c.model);
    FASTTAB_REQUIRE(why_not.empty(), "--fused-mlp cannot run this model: ", why_not);
    if (std::string(backend.kind()) == "cpu" && (comm == nullptr || comm->rank() == 0))
      std::fprintf(stderr, "note: --fused-mlp on the CPU runs the GPU kernels' block code one scalar tile at a time "
                   "(a reference for the tests, many times slower than the CPU's own passes)\n");
  }

  // Early stopping's validation rows come from the end of the training rows.
  const std::int64_t all_train_rows = data.all_train_rows();  // the whole table's, also under a partial load
  FASTTAB_REQUIRE(c.val_rows == 0 || c.val_rows + c.batch_size <= all_train_rows, "--val-rows ", c.val_rows,
                  " leaves fewer than one batch (", c.batch_size, ") of the ", all_train_rows, " training rows");
  const std::int64_t train_rows = all_train_rows - c.val_rows;
  FASTTAB_REQUIRE(train_rows >= c.batch_size, "the training set has ", train_rows, " rows, fewer than one batch of ",
                  c.batch_size, "; lower --batch-size or ",
                  data.synthetic ? "use more --rows" : "use a larger table or a smaller --test-rows/--val-rows");

  // Dataset::split "none": the caller has no test set and passed a stand-in (the Python estimators without eval_set).
  if (data.split != "none")
    warn_single_class(c.task, data.test.labels.data(), data.test.rows, test_set_words(data),
                      data.split == "last rows" ? "shuffle the file or choose other rows (--test-rows, --val-rows)"
                                                : "choose a test set holding both classes");
  warn_single_class(c.task, data.train.labels.data() + (data.train.rows - c.val_rows), c.val_rows,
                    "the validation set (the last " + std::to_string(c.val_rows) + " training rows)",
                    "shuffle the file or choose other rows (--val-rows, --val-fraction)");
  // --shard under mpirun: each rank's card holds its 1/N of the training rows. Under mpirun without --shard, a
  // table whose replicas do not fit but whose shards do switches to --shard (on every rank: any rank's lack of
  // room decides, so that all take the same placement); one process keeps the error.
  const std::int64_t shard_rows = ranks > 1 ? train_rows / ranks : train_rows;
  const bool in_place = reads_in_place(backend, data.train_features) && !c.standardize;
  double needed = bytes_needed(c, data, c.shard && ranks > 1 ? shard_rows : train_rows, in_place);
  const double free = double(backend.free_bytes());
  if (ranks > 1 && !c.shard && !data.partial()) {
    const double sharded_needed = bytes_needed(c, data, shard_rows, in_place);
    if (vote_for_shard(backend, c, needed, sharded_needed, train_rows, ranks, comm)) {
      c.shard = true;
      needed = sharded_needed;
    }
  }
  FASTTAB_REQUIRE(needed <= free, "the model and its buffers need ", std::int64_t(needed), " bytes of ",
                  backend.kind(), " memory but only ", std::int64_t(free), " are available; use smaller --hidden "
                  "or --batch-size", ranks > 1 && !c.shard ? ", or --shard to hold 1/N of the rows on each rank (with a --batch-size divisible by the ranks)" : "");
  return c;
}

}  // namespace fasttab

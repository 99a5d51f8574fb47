// The names of fasttab's choices, one table per enum: the value, the name a user writes (a flag's value, a
// checkpoint's config, a JSON field) and a line of help. Everything that turns an enum into text or text into an
// enum goes through these tables: the command-line flags, the checkpoint, the tools' JSON and the Python package.
#pragma once

#include <iterator>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "fasttab/backend.hpp"
#include "fasttab/error.hpp"
#include "fasttab/io.hpp"
#include "fasttab/optimizer.hpp"

namespace fasttab {

template <typename Enum>
struct EnumName {
  Enum value;
  const char* name;
  const char* help;
};

// The table of an enum: names<Task>() and so on. Entries are in the order help texts list them.
template <typename Enum>
struct EnumNames;

template <>
struct EnumNames<Task> {
  static constexpr EnumName<Task> table[] = {
      {Task::binary, "binary", "0/1 labels: log loss, ROC AUC"},
      {Task::multiclass, "multiclass", "labels 0..K-1: softmax cross-entropy, accuracy"},
      {Task::regression, "regression", "real labels: mean squared error, R^2"}};
};
template <>
struct EnumNames<Activation> {
  // identity is the output layer's, never a user's choice: it has no name to parse.
  static constexpr EnumName<Activation> table[] = {{Activation::tanh, "tanh", "tanh (the seed's)"},
                                                   {Activation::relu, "relu", "max(0, x)"}};
};
template <>
struct EnumNames<Precision> {
  static constexpr EnumName<Precision> table[] = {
      {Precision::fp32, "fp32", "float32 GEMMs"},
      {Precision::tf32, "tf32", "float32 data, TF32 tensor-core GEMMs on the GPU (float32 on the CPU)"},
      {Precision::bf16, "bf16", "bfloat16 GEMM inputs (weights copy, activations, gradients), float32 accumulation "
                                "on the tensor cores, float32 master weights and optimiser state (the CPU widens the "
                                "same bfloat16 values)"}};
};
template <>
struct EnumNames<GemmLibrary> {
  static constexpr EnumName<GemmLibrary> table[] = {
      {GemmLibrary::cublas, "cublas", "cublasSgemm and cublasGemmEx: cuBLAS chooses the kernel"},
      {GemmLibrary::cublaslt, "cublaslt", "cuBLASLt, the first algorithm of its heuristic per GEMM shape"},
      {GemmLibrary::cublaslt_timed, "cublaslt-timed", "cuBLASLt, the fastest of its heuristic's first algorithms "
                                                      "and split-k variants, timed at each GEMM shape's first call"}};
};
template <>
struct EnumNames<OptimizerKind> {
  static constexpr EnumName<OptimizerKind> table[] = {{OptimizerKind::adam, "adam", "Adam, L2 weight decay"},
                                                      {OptimizerKind::adamw, "adamw", "AdamW, decoupled weight decay"},
                                                      {OptimizerKind::sgd, "sgd", "SGD with optional momentum"}};
};
template <>
struct EnumNames<LrSchedule> {
  static constexpr EnumName<LrSchedule> table[] = {
      {LrSchedule::constant, "constant", "lr"},
      {LrSchedule::warmup, "warmup", "linear warm-up over --warmup-steps, then lr"},
      {LrSchedule::cosine, "cosine", "warm-up, then cosine decay to --min-lr"},
      {LrSchedule::step, "step", "lr x gamma every --lr-step-size steps"},
      {LrSchedule::exponential, "exponential", "lr x gamma every step"}};
};
template <>
struct EnumNames<HeaderMode> {
  static constexpr EnumName<HeaderMode> table[] = {{HeaderMode::detect, "detect", "detect a header line"},
                                                   {HeaderMode::present, "yes", "the first line is a header"},
                                                   {HeaderMode::absent, "no", "the first line is data"}};
};
template <>
struct EnumNames<NanPolicy> {
  static constexpr EnumName<NanPolicy> table[] = {
      {NanPolicy::reject, "reject", "a missing or non-finite value is an error"},
      {NanPolicy::drop, "drop", "drop rows with one"},
      {NanPolicy::zero, "zero", "replace it by 0"},
      {NanPolicy::indicator, "indicator", "the training mean, and a 0/1 'was missing' input per such column"}};
};
template <>
struct EnumNames<DeviceChoice> {
  static constexpr EnumName<DeviceChoice> table[] = {
      {DeviceChoice::automatic, "auto", "CUDA where a device exists, else the CPU"},
      {DeviceChoice::cuda, "cuda", "the first CUDA device"},
      {DeviceChoice::cpu, "cpu", "the CPU reference backend"}};
};

// The name of a value ("?" for a value the table lacks, such as Activation::identity).
template <typename Enum>
const char* name_of(Enum value) {
  for (const auto& e : EnumNames<Enum>::table)
    if (e.value == value) return e.name;
  return "?";
}

// "a, b or c": the names, for help texts and messages.
template <typename Enum>
std::string name_list() {
  std::string list;
  constexpr std::size_t n = std::size(EnumNames<Enum>::table);
  for (std::size_t i = 0; i < n; ++i)
    list += (i == 0 ? "" : i + 1 == n ? " or " : ", ") + std::string(EnumNames<Enum>::table[i].name);
  return list;
}

// The value named `name`; throws Error naming the setting and the names it accepts.
template <typename Enum>
Enum parse_name(std::string_view name, const char* setting) {
  for (const auto& e : EnumNames<Enum>::table)
    if (name == e.name) return e.value;
  FASTTAB_FAIL(setting, ": unknown value '", name, "'; use ", name_list<Enum>());
}

// The names in the table's order, for CLI11's IsMember (whose message lists them in this order, the default first).
template <typename Enum>
std::vector<std::string> names_in_order() {
  std::vector<std::string> names;
  for (const auto& e : EnumNames<Enum>::table) names.emplace_back(e.name);
  return names;
}

// name -> value, as CLI11's CheckedTransformer and IsMember take it.
template <typename Enum>
std::map<std::string, Enum> name_map() {
  std::map<std::string, Enum> map;
  for (const auto& e : EnumNames<Enum>::table) map.emplace(e.name, e.value);
  return map;
}

}  // namespace fasttab

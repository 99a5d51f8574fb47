// Trains a small model through the installed library's public API and checks that it learned something.
#include <cstdio>

#include <fasttab/fasttab.hpp>

int main() {
  auto backend = fasttab::make_backend(fasttab::DeviceChoice::cpu);
  fasttab::SyntheticSpec spec;
  spec.rows = 20'000;
  fasttab::Dataset data = fasttab::split_train_test(fasttab::make_synthetic(spec).table, 4'000, "synthetic");
  fasttab::TrainConfig config;
  config.model.hidden = {32, 32};
  config.batch_size = 256;
  config.epochs = 2;
  config.eval_every = 0;
  const fasttab::TrainResult result = fasttab::train(*backend, config, data);
  std::printf("consumer: test AUC %.4f after %zu epochs on %s\n", result.final_test.auc, result.epochs.size(),
              result.device.c_str());
  return result.final_test.auc > 0.7 ? 0 : 1;
}

// fasttab: train MLPs on tabular data with the whole table resident in GPU memory.
// The umbrella header of the public API: data (tables, loading, splits), the model and its settings, train,
// evaluate, predict, load a saved model, and the Backend interface for those who write a backend.
#pragma once

#include "fasttab/backend.hpp"
#include "fasttab/checkpoint.hpp"
#include "fasttab/dataset.hpp"
#include "fasttab/error.hpp"
#include "fasttab/io.hpp"
#include "fasttab/metrics.hpp"
#include "fasttab/model.hpp"
#include "fasttab/names.hpp"
#include "fasttab/optimizer.hpp"
#include "fasttab/predictor.hpp"
#include "fasttab/settings.hpp"
#include "fasttab/synthetic.hpp"
#include "fasttab/table.hpp"
#include "fasttab/train_config.hpp"
#include "fasttab/trainer.hpp"

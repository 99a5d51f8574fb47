// fasttab: train MLPs on tabular data with the whole table resident in GPU memory.
// The umbrella header of the public API.
#pragma once

#include "fasttab/backend.hpp"
#include "fasttab/checkpoint_file.hpp"
#include "fasttab/dataset.hpp"
#include "fasttab/error.hpp"
#include "fasttab/io.hpp"
#include "fasttab/loader.hpp"
#include "fasttab/metrics.hpp"
#include "fasttab/model.hpp"
#include "fasttab/optimizer.hpp"
#include "fasttab/philox.hpp"
#include "fasttab/synthetic.hpp"
#include "fasttab/table.hpp"
#include "fasttab/trainer.hpp"

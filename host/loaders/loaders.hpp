// The constructors of each loader (private to the library; make_loader picks one by name).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "host/loaders/loader.hpp"

namespace fasttab {

std::unique_ptr<Loader> make_gather_loader(const LoaderSource& source);
std::unique_ptr<Loader> make_per_sample_loader(const LoaderSource& source);
std::unique_ptr<Loader> make_per_sample_device_loader(const LoaderSource& source);
std::unique_ptr<Loader> make_slice_loader(const LoaderSource& source);

}  // namespace fasttab

namespace fasttab {
// The epoch's permutation drawn by the backend and brought to host memory (the identity when not shuffling):
// host-side loaders follow exactly the order the gather loader follows.
std::vector<std::uint32_t> host_permutation(Backend& backend, bool shuffle, std::uint64_t seed, std::uint32_t epoch,
                                            std::int64_t rows);
}  // namespace fasttab

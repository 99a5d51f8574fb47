// The class a multiclass label stored in a float names, written once for the host and the device so that both
// backends' loss and metrics treat every value, even a malformed one, the same way.
#pragma once

#if defined(__CUDACC__)
#define FASTTAB_CLASS_LABEL_HD __host__ __device__ __forceinline__
#else
#define FASTTAB_CLASS_LABEL_HD inline
#endif

namespace fasttab {

// y as a class in [0, classes), or -1 for NaN, a negative value or one past the last class. The loaders refuse such
// labels (validate_labels); only the C++ API can pass one. Converting it to int directly would be undefined on the
// host and 0 (a real class) for NaN on a GPU. A row with label -1 adds the log-sum-exp minus its largest logit to
// the loss, gets no -1 in its gradient, and is never predicted correctly.
FASTTAB_CLASS_LABEL_HD int class_label(float y, int classes) {
  return (y >= 0.0f && y < static_cast<float>(classes)) ? static_cast<int>(y) : -1;
}

}  // namespace fasttab

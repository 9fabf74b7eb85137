// MindSpore's AOT custom-operator calling convention, shared by the kernels: `params` holds the
// inputs then the outputs, `dtypes` their type names; an entry point returns 0 on success.
#pragma once

#include <cstring>

// Whether all `nparam` tensors are float32, the only type the kernels take.
inline bool float_inputs(int nparam, const char **dtypes) {
  for (int i = 0; i < nparam; ++i)
    if (std::strcmp(dtypes[i], "float32") != 0) return false;
  return true;
}

inline const float *in(void **params, int i) { return static_cast<const float *>(params[i]); }
inline float *out(void **params, int i) { return static_cast<float *>(params[i]); }

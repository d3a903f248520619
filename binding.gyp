{
  "variables": {
    "have_openblas%": "<!(node scripts/detect-blas.mjs)",
    "have_mpi%": "<!(node scripts/detect-mpi.mjs)"
  },
  "targets": [
    {
      "target_name": "mmctr_native",
      "sources": [
        "native/addon.cc",
        "native/common.cc",
        "native/gemm.cc",
        "native/elementwise.cc",
        "native/reduce.cc",
        "native/embedding.cc",
        "native/optim.cc",
        "native/random.cc",
        "native/fused.cc",
        "native/simtier.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-O3", "-fopenmp", "-std=c++17", "-fno-math-errno", "-fno-trapping-math"],
      "cflags": ["-O3", "-fopenmp"],
      "ldflags": ["-fopenmp"],
      "conditions": [
        ["target_arch=='x64'", {
          "cflags_cc": ["-march=x86-64-v2", "-mprefer-vector-width=512"],
          "cflags": ["-march=x86-64-v2", "-mprefer-vector-width=512"]
        }],
        ["have_openblas==1", {
          "defines": ["MMCTR_HAVE_OPENBLAS=1"],
          "libraries": ["-lopenblas"]
        }]
      ]
    }
  ],
  "conditions": [
    ["have_mpi==1", {
      "targets": [
        {
          "target_name": "mmctr_mpi",
          "sources": ["native/mpi.cc"],
          "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
          "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
          "cflags_cc": ["-O2", "-std=c++17", "<!@(node scripts/detect-mpi.mjs cflags)"],
          "libraries": ["<!@(node scripts/detect-mpi.mjs libs)", "-ldl"]
        }
      ]
    }]
  ]
}

//===- CUDAAttention.cpp - cuDNN's fused flash attention ------------------===//
//
// The GPU build's runAttention and runAttentionGrad (CUDAAttention.h):
// cuDNN's scaled dot-product attention (flash attention: the scores never
// leave the chip) through the cuDNN frontend's graph API, f32 compute and
// softmax statistics, 16-bit inputs and outputs. Each problem (shapes,
// strides, scale, mask and its row offset, type) builds its graph once
// (cuDNN's heuristics choose the engine); later calls only execute it: a
// device holding a share of the query rows builds the one for its first
// row. The frontend loads
// libcudart and libcudnn itself (NV_CUDNN_FRONTEND_USE_DYNAMIC_LOADING), at
// the first attention: nothing else in the runtime depends on it. Its
// errors (it throws where a library cannot be loaded) come back as text.
//
//===----------------------------------------------------------------------===//

#include "CUDAAttention.h"

#ifdef AUTOPAR_HAVE_CUDNN_FRONTEND
#include <cudnn_frontend.h>

#include <dlfcn.h>

#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace cudnn_frontend {
/// The frontend's handle on libcudnn (dynamic loading): the one the
/// runtime is linked with.
void *cudnn_dlhandle = nullptr;
} // namespace cudnn_frontend

namespace fe = cudnn_frontend;

using namespace autopar::cuda;

namespace {
/// The tensors' uids in a graph's variant pack.
enum Uid : int64_t { Q = 1, K, V, O, Stats, DO, DQ, DK, DV };

struct Built {
  std::shared_ptr<fe::graph::Graph> graph;
  int64_t workspace = 0;
};

/// A query-shaped operand's dimensions (Q, O, dO, dQ; [b, h, rows, dim])
/// and a key-value one's (K, V, dK, dV; [b, kvHeads, keys, dim]).
std::vector<int64_t> queryDims(const AttentionProblem &p, int64_t dim) {
  return {p.batch, p.heads, p.rows, dim};
}

std::vector<int64_t> kvDims(const AttentionProblem &p, int64_t dim) {
  return {p.batch, p.kvHeads, p.keys, dim};
}

std::vector<int64_t> strides(const AttentionOperand &operand) {
  return {operand.strides[0], operand.strides[1], operand.strides[2], 1};
}

std::shared_ptr<fe::graph::Tensor_attributes>
tensor(fe::graph::Graph &graph, const char *name, Uid uid,
       std::vector<int64_t> dims, std::vector<int64_t> strides) {
  return graph.tensor(fe::graph::Tensor_attributes()
                          .set_name(name)
                          .set_uid(uid)
                          .set_dim(std::move(dims))
                          .set_stride(std::move(strides)));
}

std::string loadLibraries() {
  static std::once_flag once;
  static std::string error;
  std::call_once(once, [] {
    fe::cudnn_dlhandle = dlopen("libcudnn.so.9", RTLD_NOW | RTLD_GLOBAL);
    if (!fe::cudnn_dlhandle)
      error = std::string("cannot load libcudnn.so.9: ") + dlerror();
  });
  return error;
}

/// The problem's key in the cache of built graphs.
std::vector<int64_t> key(bool grad, const AttentionProblem &p,
                         std::initializer_list<const AttentionOperand *> ops) {
  std::vector<int64_t> result = {grad,     p.batch, p.heads,    p.kvHeads,
                                 p.rows,   p.keys,  p.dim,      p.valueDim,
                                 p.causal, p.dtype, p.rowOffset};
  double scale = p.scale;
  int64_t bits;
  std::memcpy(&bits, &scale, sizeof(bits));
  result.push_back(bits);
  for (const AttentionOperand *op : ops)
    result.insert(result.end(), op->strides, op->strides + 3);
  return result;
}

/// Builds (once) the graph `define` describes for `cacheKey`.
std::string getGraph(cudnnHandle_t handle, const std::vector<int64_t> &cacheKey,
                     const AttentionProblem &p,
                     const std::function<void(fe::graph::Graph &)> &define,
                     Built *&built) {
  static std::map<std::vector<int64_t>, Built> graphs;
  auto found = graphs.find(cacheKey);
  if (found != graphs.end()) {
    built = &found->second;
    return "";
  }
  std::string error = loadLibraries();
  if (!error.empty())
    return error;
  auto graph = std::make_shared<fe::graph::Graph>();
  graph
      ->set_io_data_type(p.dtype == 1 ? fe::DataType_t::HALF
                                      : fe::DataType_t::BFLOAT16)
      .set_intermediate_data_type(fe::DataType_t::FLOAT)
      .set_compute_data_type(fe::DataType_t::FLOAT);
  try {
    define(*graph);
    fe::error_t status = graph->build(handle, {fe::HeurMode_t::A});
    if (!status.is_good())
      return "cuDNN refused the graph: " + status.get_message();
    Built result{graph, 0};
    status = graph->get_workspace_size(result.workspace);
    if (!status.is_good())
      return "cuDNN's workspace size: " + status.get_message();
    built = &graphs.emplace(cacheKey, std::move(result)).first->second;
  } catch (const std::exception &exception) {
    return std::string("the cuDNN frontend failed: ") + exception.what();
  }
  return "";
}

std::string execute(cudnnHandle_t handle, const Built &built,
                    std::unordered_map<int64_t, void *> &pack,
                    const Workspace &workspace) {
  void *scratch = workspace(static_cast<size_t>(built.workspace));
  try {
    fe::error_t status = built.graph->execute(handle, pack, scratch);
    if (!status.is_good())
      return "cuDNN could not run the graph: " + status.get_message();
  } catch (const std::exception &exception) {
    return std::string("the cuDNN frontend failed: ") + exception.what();
  }
  return "";
}

/// The causal mask on `options` (forward or backward attributes): key j
/// > row i + rowOffset masked, cuDNN's diagonal band aligned top-left with
/// that right bound (set_causal_mask's band where it is 0).
template <typename Attributes>
void setMask(Attributes &options, const AttentionProblem &p) {
  if (p.causal)
    options.set_diagonal_alignment(fe::DiagonalAlignment_t::TOP_LEFT)
        .set_diagonal_band_right_bound(static_cast<int>(p.rowOffset));
}

/// The lse as cuDNN's statistics tensor: [b, h, rows, 1], contiguous.
std::shared_ptr<fe::graph::Tensor_attributes>
describeStats(const AttentionProblem &p,
              std::shared_ptr<fe::graph::Tensor_attributes> stats) {
  stats->set_uid(Stats)
      .set_data_type(fe::DataType_t::FLOAT)
      .set_dim({p.batch, p.heads, p.rows, 1})
      .set_stride({p.heads * p.rows, p.rows, 1, 1});
  return stats;
}
} // namespace

std::string autopar::cuda::runAttention(
    cudnnHandle_t handle, const AttentionProblem &p, const AttentionOperand &q,
    const AttentionOperand &k, const AttentionOperand &v,
    const AttentionOperand &o, float *lse, const Workspace &workspace) {
  Built *built = nullptr;
  std::string error = getGraph(
      handle, key(false, p, {&q, &k, &v, &o}), p,
      [&](fe::graph::Graph &graph) {
        auto options = fe::graph::SDPA_attributes()
                           .set_name("autopar.attention")
                           .set_generate_stats(true)
                           .set_attn_scale(static_cast<float>(p.scale));
        setMask(options, p);
        auto [out, stats] = graph.sdpa(
            tensor(graph, "Q", Q, queryDims(p, p.dim), strides(q)),
            tensor(graph, "K", K, kvDims(p, p.dim), strides(k)),
            tensor(graph, "V", V, kvDims(p, p.valueDim), strides(v)), options);
        out->set_output(true)
            .set_uid(O)
            .set_dim(queryDims(p, p.valueDim))
            .set_stride(strides(o));
        describeStats(p, stats)->set_output(true);
      },
      built);
  if (!error.empty())
    return error;
  std::unordered_map<int64_t, void *> pack = {
      {Q, q.data}, {K, k.data}, {V, v.data}, {O, o.data}, {Stats, lse}};
  return execute(handle, *built, pack, workspace);
}

std::string autopar::cuda::runAttentionGrad(
    cudnnHandle_t handle, const AttentionProblem &p, const AttentionOperand &q,
    const AttentionOperand &k, const AttentionOperand &v,
    const AttentionOperand &o, const AttentionOperand &dO, const float *lse,
    const AttentionOperand &dQ, const AttentionOperand &dK,
    const AttentionOperand &dV, const Workspace &workspace) {
  Built *built = nullptr;
  std::string error = getGraph(
      handle, key(true, p, {&q, &k, &v, &o, &dO, &dQ, &dK, &dV}), p,
      [&](fe::graph::Graph &graph) {
        auto options = fe::graph::SDPA_backward_attributes()
                           .set_name("autopar.attention_grad")
                           .set_attn_scale(static_cast<float>(p.scale));
        setMask(options, p);
        auto stats =
            graph.tensor(fe::graph::Tensor_attributes().set_name("Stats"));
        describeStats(p, stats);
        auto [gradQ, gradK, gradV] = graph.sdpa_backward(
            tensor(graph, "Q", Q, queryDims(p, p.dim), strides(q)),
            tensor(graph, "K", K, kvDims(p, p.dim), strides(k)),
            tensor(graph, "V", V, kvDims(p, p.valueDim), strides(v)),
            tensor(graph, "O", O, queryDims(p, p.valueDim), strides(o)),
            tensor(graph, "dO", DO, queryDims(p, p.valueDim), strides(dO)),
            stats, options);
        gradQ->set_output(true)
            .set_uid(DQ)
            .set_dim(queryDims(p, p.dim))
            .set_stride(strides(dQ));
        gradK->set_output(true)
            .set_uid(DK)
            .set_dim(kvDims(p, p.dim))
            .set_stride(strides(dK));
        gradV->set_output(true)
            .set_uid(DV)
            .set_dim(kvDims(p, p.valueDim))
            .set_stride(strides(dV));
      },
      built);
  if (!error.empty())
    return error;
  std::unordered_map<int64_t, void *> pack = {
      {Q, q.data},   {K, k.data},   {V, v.data},
      {O, o.data},   {DO, dO.data}, {Stats, const_cast<float *>(lse)},
      {DQ, dQ.data}, {DK, dK.data}, {DV, dV.data}};
  return execute(handle, *built, pack, workspace);
}
#else
// Built without the cuDNN frontend (scripts/cudnn-frontend.sh found no
// PyPI): the lowering's calls report it.

namespace {
std::string missing() {
  return "this runtime was built without the cuDNN frontend "
         "(scripts/cudnn-frontend.sh could not fetch it)";
}
} // namespace

std::string autopar::cuda::runAttention(cudnnHandle_t, const AttentionProblem &,
                                        const AttentionOperand &,
                                        const AttentionOperand &,
                                        const AttentionOperand &,
                                        const AttentionOperand &, float *,
                                        const Workspace &) {
  return missing();
}

std::string autopar::cuda::runAttentionGrad(
    cudnnHandle_t, const AttentionProblem &, const AttentionOperand &,
    const AttentionOperand &, const AttentionOperand &,
    const AttentionOperand &, const AttentionOperand &, const float *,
    const AttentionOperand &, const AttentionOperand &,
    const AttentionOperand &, const Workspace &) {
  return missing();
}
#endif

//===- MeshGroup.h - which ranks a collective runs over ---------*- C++ -*-===//
//
// The encoding of meshes and axis lists that generated code passes to a
// runtime (autopar-lower-collectives-to-mpi/-nccl), and the group of ranks
// a collective over some mesh axes spans. Shared by the MPI and the NCCL
// runtime; header-only, so that each runtime library stays self-contained.
//
// A mesh code holds the size of axis i in bits [16 i, 16 i + 16) (at most 4
// axes); an axes code holds axis index + 1 in bits [4 j, 4 j + 4) for the
// j-th axis of the group, in group order. Ranks are the row-major linear
// indices of mesh coordinates.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_RUNTIME_MESHGROUP_H
#define AUTOPAR_RUNTIME_MESHGROUP_H

#include <cstdint>
#include <string>
#include <vector>

namespace autopar::runtime {

inline std::vector<int64_t> decodeMesh(int64_t meshCode) {
  std::vector<int64_t> sizes;
  for (int axis = 0; axis < 4; ++axis) {
    int64_t size = (meshCode >> (16 * axis)) & 0xffff;
    if (size == 0)
      break;
    sizes.push_back(size);
  }
  return sizes;
}

inline std::vector<int> decodeAxes(int64_t axesCode) {
  std::vector<int> axes;
  for (int i = 0; i < 16; ++i) {
    int axis = static_cast<int>((axesCode >> (4 * i)) & 0xf);
    if (axis == 0)
      break;
    axes.push_back(axis - 1);
  }
  return axes;
}

/// "[0,1]": the axes of `axesCode`, for messages.
inline std::string describeAxes(int64_t axesCode) {
  std::string text = "[";
  for (int axis : decodeAxes(axesCode))
    text += (text.size() > 1 ? "," : "") + std::to_string(axis);
  return text + "]";
}

/// The ranks of one collective's group, in group order, and where the
/// calling rank is among them.
struct MeshGroup {
  std::vector<int> members;
  int position = 0;
  /// The group's index among all groups along the same axes (the same for
  /// every member), e.g. to name a communicator.
  int64_t index = 0;
};

/// This rank's coordinates on the mesh `sizes`; an error message when the
/// job does not have exactly one rank per device.
inline std::string getCoordinates(const std::vector<int64_t> &sizes, int rank,
                                  int worldSize, std::vector<int64_t> &coords) {
  int64_t devices = 1;
  for (int64_t size : sizes)
    devices *= size;
  if (devices != worldSize)
    return "the program runs on a mesh of " + std::to_string(devices) +
           " devices but the job has " + std::to_string(worldSize) +
           " ranks; run it with -n " + std::to_string(devices);
  coords.assign(sizes.size(), 0);
  int64_t rest = rank;
  for (int axis = static_cast<int>(sizes.size()) - 1; axis >= 0; --axis) {
    coords[axis] = rest % sizes[axis];
    rest /= sizes[axis];
  }
  return "";
}

/// The group of `rank` for a collective over `axesCode` of `meshCode`; an
/// error message when the job or the codes do not fit.
inline std::string getMeshGroup(int64_t meshCode, int64_t axesCode, int rank,
                                int worldSize, MeshGroup &group) {
  std::vector<int64_t> sizes = decodeMesh(meshCode);
  std::vector<int64_t> coords;
  if (std::string error = getCoordinates(sizes, rank, worldSize, coords);
      !error.empty())
    return error;
  std::vector<int> axes = decodeAxes(axesCode);
  std::vector<bool> inGroup(sizes.size(), false);
  int64_t count = 1;
  group.position = 0;
  for (int axis : axes) {
    if (axis >= static_cast<int>(sizes.size()))
      return "a collective names mesh axis " + std::to_string(axis) +
             " of a mesh with " + std::to_string(sizes.size()) + " axes";
    inGroup[axis] = true;
    count *= sizes[axis];
    group.position =
        static_cast<int>(group.position * sizes[axis] + coords[axis]);
  }
  group.index = 0;
  for (size_t axis = 0; axis < sizes.size(); ++axis)
    if (!inGroup[axis])
      group.index = group.index * sizes[axis] + coords[axis];
  group.members.clear();
  for (int64_t member = 0; member < count; ++member) {
    std::vector<int64_t> at = coords;
    int64_t rest = member;
    for (int i = static_cast<int>(axes.size()) - 1; i >= 0; --i) {
      at[axes[i]] = rest % sizes[axes[i]];
      rest /= sizes[axes[i]];
    }
    int64_t linear = 0;
    for (size_t axis = 0; axis < sizes.size(); ++axis)
      linear = linear * sizes[axis] + at[axis];
    group.members.push_back(static_cast<int>(linear));
  }
  return "";
}

/// This rank's linear index along `axesCode` (autopar.device_coord).
inline std::string getDeviceCoord(int64_t meshCode, int64_t axesCode, int rank,
                                  int worldSize, int64_t &coord) {
  std::vector<int64_t> sizes = decodeMesh(meshCode);
  std::vector<int64_t> coords;
  if (std::string error = getCoordinates(sizes, rank, worldSize, coords);
      !error.empty())
    return error;
  coord = 0;
  for (int axis : decodeAxes(axesCode)) {
    if (axis >= static_cast<int>(sizes.size()))
      return "a device coordinate names mesh axis " + std::to_string(axis) +
             " of a mesh with " + std::to_string(sizes.size()) + " axes";
    coord = coord * sizes[axis] + coords[axis];
  }
  return "";
}

/// A permute's peers for the group member at `position`: the member it
/// sends to and the one it receives from (-1: none), from `count`
/// (source, target) pairs of group positions.
inline void getPermutePeers(const int64_t *pairs, int64_t count, int position,
                            int &target, int &source) {
  target = source = -1;
  for (int64_t i = 0; i < count; ++i) {
    if (pairs[2 * i] == position)
      target = static_cast<int>(pairs[2 * i + 1]);
    if (pairs[2 * i + 1] == position)
      source = static_cast<int>(pairs[2 * i]);
  }
}

/// A send's or a recv's (`what`) peer: the world rank of `group`'s member
/// at position `peer`, or an error when the group has no such member.
inline std::string getTransferPeer(const MeshGroup &group, int64_t peer,
                                   int64_t axesCode, const char *what,
                                   int &rank) {
  if (peer < 0 || peer >= static_cast<int64_t>(group.members.size()))
    return std::string(what) + ": peer " + std::to_string(peer) +
           " is outside the group of " + std::to_string(group.members.size()) +
           " ranks over mesh axes " + describeAxes(axesCode);
  rank = group.members[peer];
  return "";
}

} // namespace autopar::runtime

#endif // AUTOPAR_RUNTIME_MESHGROUP_H

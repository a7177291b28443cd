//===- MeshGroupTest.cpp - which ranks a collective spans -----------------===//
//
// Checks include/autopar/Runtime/MeshGroup.h, which both runtimes use to
// find a collective's group (and the NCCL runtime to split communicators:
// color = group index, key = position), on every mesh of up to 3 axes with
// sizes 1-4 and every ordered list of distinct axes: for each rank, the
// group contains it at its position; all members compute the same group and
// index; groups along the same axes partition the ranks, one index each;
// members differ from the rank only along the group's axes, in row-major
// order of those axes; device coordinates equal positions. Prints a
// summary that the lit test checks; exits 1 on the first violation.
//
//===----------------------------------------------------------------------===//

#include "autopar/Runtime/MeshGroup.h"

#include <algorithm>
#include <cstdio>
#include <set>
#include <vector>

using namespace autopar::runtime;

namespace {
int failures = 0;

void expect(bool condition, const char *what, int64_t meshCode,
            int64_t axesCode, int rank) {
  if (condition)
    return;
  if (failures++ < 10)
    std::printf("FAIL: %s (mesh %lld, axes %lld, rank %d)\n", what,
                static_cast<long long>(meshCode),
                static_cast<long long>(axesCode), rank);
}

void checkMesh(const std::vector<int64_t> &sizes, long &cases) {
  int64_t meshCode = 0, devices = 1;
  for (size_t axis = 0; axis < sizes.size(); ++axis) {
    meshCode |= sizes[axis] << (16 * axis);
    devices *= sizes[axis];
  }
  // Every ordered list of distinct axes (the empty one too).
  std::vector<std::vector<int>> lists = {{}};
  for (size_t length = 1; length <= sizes.size(); ++length) {
    std::vector<int> axes(sizes.size());
    for (size_t i = 0; i < axes.size(); ++i)
      axes[i] = static_cast<int>(i);
    std::vector<std::vector<int>> found;
    do {
      std::vector<int> prefix(axes.begin(), axes.begin() + length);
      if (std::find(found.begin(), found.end(), prefix) == found.end())
        found.push_back(prefix);
    } while (std::next_permutation(axes.begin(), axes.end()));
    lists.insert(lists.end(), found.begin(), found.end());
  }
  for (const std::vector<int> &axes : lists) {
    int64_t axesCode = 0, groupSize = 1;
    for (size_t j = 0; j < axes.size(); ++j) {
      axesCode |= static_cast<int64_t>(axes[j] + 1) << (4 * j);
      groupSize *= sizes[axes[j]];
    }
    std::vector<MeshGroup> groups(devices);
    std::set<int64_t> indices;
    for (int rank = 0; rank < devices; ++rank) {
      ++cases;
      MeshGroup &group = groups[rank];
      std::string error = getMeshGroup(meshCode, axesCode, rank,
                                       static_cast<int>(devices), group);
      expect(error.empty(), "no error", meshCode, axesCode, rank);
      expect(static_cast<int64_t>(group.members.size()) == groupSize,
             "group size", meshCode, axesCode, rank);
      expect(group.position >= 0 && group.position < groupSize &&
                 group.members[group.position] == rank,
             "rank at its position", meshCode, axesCode, rank);
      int64_t coord = -1;
      getDeviceCoord(meshCode, axesCode, rank, static_cast<int>(devices),
                     coord);
      expect(coord == group.position, "device coordinate = position", meshCode,
             axesCode, rank);
      indices.insert(group.index);
      // Members in row-major order of the group's axes: consecutive
      // members differ in the last axis first.
      for (size_t i = 0; i < group.members.size(); ++i) {
        int64_t rest = static_cast<int64_t>(i);
        std::vector<int64_t> coords(sizes.size());
        int64_t linear = group.members[i];
        for (int axis = static_cast<int>(sizes.size()) - 1; axis >= 0; --axis) {
          coords[axis] = linear % sizes[axis];
          linear /= sizes[axis];
        }
        for (int j = static_cast<int>(axes.size()) - 1; j >= 0; --j) {
          expect(coords[axes[j]] == rest % sizes[axes[j]], "member order",
                 meshCode, axesCode, rank);
          rest /= sizes[axes[j]];
        }
      }
    }
    for (int rank = 0; rank < devices; ++rank)
      for (int member : groups[rank].members)
        expect(groups[member].members == groups[rank].members &&
                   groups[member].index == groups[rank].index,
               "members agree", meshCode, axesCode, rank);
    expect(static_cast<int64_t>(indices.size()) == devices / groupSize &&
               *indices.begin() == 0 &&
               *indices.rbegin() == devices / groupSize - 1,
           "one index per group, 0..groups-1", meshCode, axesCode, 0);
  }
}
} // namespace

int main() {
  long cases = 0, meshes = 0;
  for (int rank = 1; rank <= 3; ++rank) {
    std::vector<int64_t> sizes(rank, 1);
    while (true) {
      checkMesh(sizes, cases);
      ++meshes;
      int axis = 0;
      while (axis < rank && ++sizes[axis] > 4)
        sizes[axis++] = 1;
      if (axis == rank)
        break;
    }
  }
  // A job that does not match the mesh is an error, not a wrong group.
  MeshGroup group;
  std::string error = getMeshGroup(2 | (2 << 16), 1, 0, 3, group);
  std::printf("mismatch: %s\n", error.c_str());
  std::printf("mesh groups: %ld meshes, %ld cases, %d failures\n", meshes,
              cases, failures);
  return failures ? 1 : 0;
}

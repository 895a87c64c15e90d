using System.Buffers;
using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Microsoft.AspNetCore.Connections;

namespace Skiff.Api;

/// <summary>
/// Kestrel's memory pool with 64 KiB blocks instead of its default 4 KiB. The socket transport receives into one pool
/// block at a time, so with 4 KiB blocks a 50 MB build context or image upload costs ~25,000 <c>recvmsg</c> calls and as
/// many pipe wake-ups; with 64 KiB blocks it is ~16 times fewer. Blocks are pinned (the transport hands them to the
/// kernel) and at most <see cref="MaxRetained"/> of them are kept for reuse, and none once the API is idle
/// (<see cref="IdleTrim"/>), so the blocks of a burst do not stay in an idle daemon's memory.
/// </summary>
internal sealed class LargeBlockMemoryPoolFactory : IMemoryPoolFactory<byte>
{
    private static readonly ConcurrentBag<LargeBlockMemoryPool> Pools = [];

    public MemoryPool<byte> Create(MemoryPoolOptions? options = null)
    {
        var pool = new LargeBlockMemoryPool();
        Pools.Add(pool);
        return pool;
    }

    /// <summary>Drops every block kept for reuse (called when the API goes idle, before the GC gives memory back).</summary>
    internal static void ReleaseRetained()
    {
        foreach (var pool in Pools) pool.ReleaseRetained();
    }

    private sealed class LargeBlockMemoryPool : MemoryPool<byte>
    {
        private const int BlockSize = 64 * 1024;
        private const int MaxRetained = 32;
        private readonly ConcurrentBag<byte[]> _free = [];
        private int _retained;

        public override int MaxBufferSize => BlockSize;

        public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
        {
            if (minBufferSize > BlockSize) throw new ArgumentOutOfRangeException(nameof(minBufferSize));
            if (_free.TryTake(out var block)) Interlocked.Decrement(ref _retained);
            else block = GC.AllocateUninitializedArray<byte>(BlockSize, pinned: true);
            return new Owner(this, block);
        }

        private void Return(byte[] block)
        {
            if (Interlocked.Increment(ref _retained) <= MaxRetained) _free.Add(block);
            else Interlocked.Decrement(ref _retained);
        }

        internal void ReleaseRetained()
        {
            while (_free.TryTake(out _)) Interlocked.Decrement(ref _retained);
        }

        protected override void Dispose(bool disposing)
        {
        }

        private sealed class Owner(LargeBlockMemoryPool pool, byte[] block) : IMemoryOwner<byte>
        {
            private byte[]? _block = block;

            public Memory<byte> Memory => _block is { } b ? MemoryMarshal.CreateFromPinnedArray(b, 0, b.Length) : throw new ObjectDisposedException(nameof(Owner));

            public void Dispose()
            {
                if (Interlocked.Exchange(ref _block, null) is { } b) pool.Return(b);
            }
        }
    }
}
